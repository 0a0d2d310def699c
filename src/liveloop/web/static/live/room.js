/* LiveLoop room socket: join with a token, resume with last_seq, reconnect with backoff.
 *
 * Shared by the viewer page and the anchor console. Frames are {seq, msgs:[...]}; the client
 * remembers the last seq it saw so that a reconnect gets exactly what it missed (or a fresh
 * snapshot). Close codes the server uses to say "do not come back" stop the retries.
 */
(function () {
  "use strict";

  // Close codes (docs/live-protocol.md): the room will not take this client back as it is.
  var FINAL_CODES = { 4003: "banned", 4004: "not_found", 4008: "kicked", 4010: "ended" };
  var AUTH_CODE = 4001; // token expired or invalid: fetch a new token, then retry
  var FLOOD_CODE = 4029; // the server asks for 30 s of quiet before the next try
  var FLOOD_WAIT_MS = 30000;
  var PING_EVERY_MS = 20000;
  var BACKOFF_BASE_MS = 1000;
  var BACKOFF_CAP_MS = 30000;

  function socketUrl(path) {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + window.location.host + path;
  }

  /**
   * options: path ("/ws/live/7"), getToken(refresh) -> Promise<string>,
   *          onMessages(msgs), onState(state, detail) with state one of
   *          "connecting" | "live" | "retrying" | "closed".
   */
  function RoomSocket(options) {
    this.options = options;
    this.lastSeq = null;
    this.attempt = 0;
    this.stopped = false;
    this.socket = null;
    this.pingTimer = null;
    this.retryTimer = null;
    this.refreshToken = false;
    this.joined = false;
  }

  RoomSocket.prototype.start = function () {
    this.stopped = false;
    this._connect();
  };

  RoomSocket.prototype.stop = function () {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    if (this.socket) this.socket.close(1000, "bye");
  };

  /** Join again at once with a new token (a guest who became a customer), resuming from the
   * last seq; the old socket's close is not a failure. */
  RoomSocket.prototype.rejoin = function () {
    if (this.stopped) return;
    var old = this.socket;
    this.socket = null;
    clearInterval(this.pingTimer);
    clearTimeout(this.retryTimer);
    if (old) old.close(1000, "rejoin");
    this._connect();
  };

  RoomSocket.prototype.send = function (message) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  };

  RoomSocket.prototype.isOpen = function () {
    return !!this.socket && this.socket.readyState === WebSocket.OPEN;
  };

  RoomSocket.prototype._connect = function () {
    var self = this;
    self.options.onState("connecting", { attempt: self.attempt });
    var refresh = self.refreshToken;
    self.refreshToken = false;
    Promise.resolve(self.options.getToken(refresh)).then(function (token) {
      if (self.stopped) return;
      var socket = new WebSocket(socketUrl(self.options.path));
      self.socket = socket;
      self.joined = false;
      socket.onopen = function () {
        socket.send(JSON.stringify({ type: "join", token: token, last_seq: self.lastSeq }));
        clearInterval(self.pingTimer);
        self.pingTimer = setInterval(function () { self.send({ type: "ping" }); }, PING_EVERY_MS);
      };
      socket.onmessage = function (event) { self._receive(event.data); };
      socket.onclose = function (event) { self._closed(socket, event); };
    }, function (error) {
      self._retry({ reason: String((error && error.message) || error) });
    });
  };

  RoomSocket.prototype._receive = function (data) {
    var frame;
    try {
      frame = JSON.parse(data);
    } catch (error) {
      return; // not ours to show; the next frame carries on
    }
    if (!frame || !Array.isArray(frame.msgs)) return;
    if (!this.joined) {
      this.joined = true;
      this.attempt = 0;
      this.options.onState("live", {});
    }
    if (typeof frame.seq === "number") this.lastSeq = frame.seq;
    this.options.onMessages(frame.msgs);
  };

  RoomSocket.prototype._closed = function (socket, event) {
    if (socket !== this.socket) return;
    clearInterval(this.pingTimer);
    if (this.stopped) return;
    if (FINAL_CODES[event.code]) {
      this.stopped = true;
      this.options.onState("closed", { code: event.code, kind: FINAL_CODES[event.code], reason: event.reason });
      return;
    }
    if (event.code === AUTH_CODE) this.refreshToken = true;
    this._retry({ code: event.code, reason: event.reason });
  };

  RoomSocket.prototype._retry = function (detail) {
    var self = this;
    if (self.stopped) return;
    // Exponential backoff with jitter, so a room that drops many viewers at once does not
    // have them all knock again in the same instant.
    var ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * Math.pow(2, self.attempt));
    var delay = Math.round(ceiling / 2 + Math.random() * ceiling / 2);
    if (detail.code === FLOOD_CODE) delay = Math.max(delay, FLOOD_WAIT_MS);
    self.attempt += 1;
    detail.delay = delay;
    self.options.onState("retrying", detail);
    clearTimeout(self.retryTimer);
    self.retryTimer = setTimeout(function () { self._connect(); }, delay);
  };

  window.LiveLoopRoomSocket = RoomSocket;
})();
