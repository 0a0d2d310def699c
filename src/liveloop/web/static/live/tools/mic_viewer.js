/* Mic requests (上麦) on the viewer page (live/tools/_mic_viewer.html).
 *
 * Follows the room's `mic` card (in the snapshot's promotions too): shows who is on mic and,
 * while the host takes guests, a button to ask. Where this viewer stands comes from
 * GET /api/v1/public/live/{id}/mic, fetched when the card changes and every few seconds while
 * a request is open (in case a message was missed). Names come masked and go in with
 * textContent. Audio and video of a guest are the media server's, not this page's.
 */
(function () {
  "use strict";

  var t = JSON.parse(document.getElementById("lmic-i18n").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var card = null;
  var me = null;
  var phoneCode = null;
  var OPEN = { requested: true, accepted: true };

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, name) {
      return values[name] === undefined ? "" : String(values[name]);
    });
  }

  function viewer() { return window.LiveLoopViewer || {}; }

  async function call(method, url, body) {
    var headers = { Accept: "application/json", "Content-Type": "application/json" };
    if (viewer().token) headers.Authorization = "Bearer " + viewer().token;
    var response = await fetch(url, {
      method: method, headers: headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    var data = null;
    try { data = await response.json(); } catch (error) { data = null; }
    if (!response.ok) {
      var failure = new Error((data && data.message) || t.failed);
      failure.code = data && data.code;
      throw failure;
    }
    return data;
  }

  function note(text) {
    $("lmic-note").textContent = text || "";
    $("lmic-note").hidden = !text;
  }

  function isOpen() { return !!(me && OPEN[me.status]); }

  function stateText() {
    if (!me || !me.status) return card && card.state === "open" ? t.open : "";
    if (me.status === "requested") return format(t.waiting, { position: me.position || "…" });
    if (me.status === "accepted") return format(t.accepted, { seat: me.seat });
    if (me.status === "rejected") return me.reason ? format(t.rejected_reason, { reason: me.reason }) : t.rejected;
    return t[me.status] || "";
  }

  function render() {
    var strip = $("lmic-strip");
    strip.hidden = !card && !isOpen();
    var guests = (card && card.guests) || [];
    $("lmic-guests").textContent = guests.length
      ? format(t.on_mic_now, { names: guests.map(function (g) { return g.name; }).join("、") })
      : "";
    var button = $("lmic-open");
    var accepted = me && me.status === "accepted";
    button.classList.toggle("on", !!accepted);
    $("lmic-open-label").textContent = accepted ? t.on_mic_short
      : (me && me.status === "requested") ? t.waiting_short : t.ask;
    button.hidden = !isOpen() && !(card && card.state === "open");
    if (!card && !isOpen()) $("lmic-sheet").hidden = true;
    $("lmic-state").textContent = stateText();
    $("lmic-ask").hidden = isOpen() || !(card && card.state === "open");
    var withdraw = $("lmic-withdraw");
    withdraw.hidden = !isOpen();
    withdraw.textContent = accepted ? t.leave : t.cancel;
  }

  async function refreshMine() {
    var id = viewer().liveSessionId;
    if (!id || !viewer().token) return;
    try {
      var data = await call("GET", "/api/v1/public/live/" + id + "/mic");
      card = data.card;
      me = data.me;
    } catch (error) { /* keep what we had; the next message or poll tries again */ }
    render();
  }

  async function ask(event) {
    event.preventDefault();
    note("");
    var text = event.target.querySelector("[name=note]").value.trim();
    try {
      me = await call("POST", "/api/v1/public/live/" + viewer().liveSessionId + "/mic/requests", { note: text });
    } catch (error) {
      if (error.code === "customer_required") askPhone();
      else note(error.message);
    }
    render();
  }

  async function withdraw() {
    if (!me || !me.id) return;
    note("");
    try {
      me = await call("POST", "/api/v1/public/mic/requests/" + me.id + "/cancel");
    } catch (error) {
      note(error.message);
      refreshMine();
    }
    render();
  }

  function askPhone() {
    note(t.need_phone);
    $("lmic-login").hidden = false;
    if (!phoneCode && window.LiveLoopPhoneCode) {
      phoneCode = window.LiveLoopPhoneCode.bind($("lmic-phone-code"), function () { return viewer().token; });
    }
    if (phoneCode) phoneCode.show(true);
  }

  async function login(event) {
    event.preventDefault();
    var phone = event.target.querySelector("[name=phone]").value.trim();
    try {
      var answer = await call("POST", "/api/v1/public/phone-login", {
        phone: phone, code: phoneCode ? phoneCode.code() : "",
      });
      if (viewer().setToken) viewer().setToken(answer.viewer_token);
      $("lmic-login").hidden = true;
      note("");
      $("lmic-state").textContent = t.logged_in;
      refreshMine();
    } catch (error) {
      note(error.message);
    }
  }

  document.addEventListener("liveloop:room-message", function (event) {
    var msg = event.detail || {};
    if (msg.type === "snapshot") {
      card = ((msg.state || {}).promotions || {}).mic || null;
      render();
      if (card) refreshMine(); // no mic, no request: nothing to ask the server
    } else if (msg.type === "mic") {
      card = msg.card || null;
      render();
      if (isOpen() || (me && me.id)) refreshMine();
    }
  });
  document.addEventListener("liveloop:token", function () { if (card) refreshMine(); });
  $("lmic-open").addEventListener("click", function () { $("lmic-sheet").hidden = !$("lmic-sheet").hidden; });
  $("lmic-close").addEventListener("click", function () { $("lmic-sheet").hidden = true; });
  $("lmic-ask").addEventListener("submit", ask);
  $("lmic-withdraw").addEventListener("click", withdraw);
  $("lmic-login").addEventListener("submit", login);
  setInterval(function () { if (isOpen()) refreshMine(); }, 8000);
})();
