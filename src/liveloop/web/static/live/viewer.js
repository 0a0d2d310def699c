/* LiveLoop viewer page: the room socket, danmaku, likes, notices, reservation and sharing
 * (video in viewer_video.js, the line-up and pushed product in viewer_products.js).
 *
 * Everything a person wrote (names, comments, notices) is put on the page with textContent,
 * never innerHTML. Every room message is also dispatched on `document` as the DOM event
 * `liveloop:room-message` (detail = the message) so that other widgets (checkout, coupons,
 * flash sales) can follow the room without touching this file; the Buy buttons dispatch
 * `liveloop:buy` with {product_id, sku_id, live_session_id}.
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("room-config").textContent);
  var t = config.i18n;
  var $ = function (id) { return document.getElementById(id); };

  var DEVICE_KEY = "liveloop.device_id";
  var MAX_DANMAKU = 80;
  var LIKE_FLUSH_MS = 300;
  var MAX_LIKES_PER_SEND = 100;

  var state = {
    token: null,
    status: config.status,
    commentsEnabled: true,
    likeShown: 0,
    likePending: 0,
    me: null, // {key, name, role} from the server's "joined"
    mine: [], // [client_id, line] of my comments shown before the room echoes them
  };
  // A comment the room refused: take my optimistic copy of it down again.
  var REFUSED = { rate_limited: 1, comment_blocked: 1, comments_off: 1, too_long: 1, muted: 1, empty: 1 };

  var video = window.LiveLoopVideo({ t: t });
  var products = window.LiveLoopProducts({
    t: t,
    toast: toast,
    onBuy: function (product, skuId) {
      room.send({ type: "product_click", product_id: product.id });
      emit("liveloop:buy", { product_id: product.id, sku_id: skuId, live_session_id: config.live_session_id });
    },
  });

  // ---- small helpers -------------------------------------------------------------------

  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, name) {
      return values[name] === undefined ? "" : String(values[name]);
    });
  }

  function shortNumber(value) {
    if (value < 10000) return String(value);
    return config.language === "zh_CN" ? (value / 10000).toFixed(1) + "万" : (value / 1000).toFixed(1) + "k";
  }

  function uuid() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
      var r = (Math.random() * 16) | 0;
      return (c === "x" ? r : (r & 0x3) | 0x8).toString(16);
    });
  }

  function deviceId() {
    var id = null;
    try {
      id = window.localStorage.getItem(DEVICE_KEY);
      if (!id) {
        id = uuid();
        window.localStorage.setItem(DEVICE_KEY, id);
      }
    } catch (error) {
      id = id || uuid(); // private mode: a device id for this page only
    }
    return id;
  }

  function toast(message) {
    var box = $("viewer-toast");
    box.textContent = message;
    box.hidden = false;
    clearTimeout(box._timer);
    box._timer = setTimeout(function () { box.hidden = true; }, 4000);
  }

  function emit(name, detail) {
    document.dispatchEvent(new CustomEvent(name, { detail: detail }));
  }

  async function api(url, body, withToken) {
    var headers = { "Content-Type": "application/json", Accept: "application/json" };
    if (withToken && state.token) headers.Authorization = "Bearer " + state.token;
    var response = await fetch(url, {
      method: body === undefined ? "GET" : "POST",
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
    var data = null;
    try { data = await response.json(); } catch (error) { data = null; }
    if (!response.ok) {
      var failure = new Error((data && data.message) || t.try_again);
      failure.field = data && data.field;
      failure.code = data && data.code;
      failure.status = response.status;
      throw failure;
    }
    return data;
  }

  // ---- token and room info ---------------------------------------------------------------

  // A customer's token (after a verified phone) is kept in this browser, so that a reload or
  // the shop's next session exchanges it for a fresh one instead of starting over as a guest.
  var CUSTOMER_TOKEN_KEY = "liveloop.customer_token." + config.shop_id;

  function keptToken() {
    try { return window.localStorage.getItem(CUSTOMER_TOKEN_KEY); } catch (error) { return null; }
  }

  function keepToken(token) {
    try {
      if (token) window.localStorage.setItem(CUSTOMER_TOKEN_KEY, token);
      else window.localStorage.removeItem(CUSTOMER_TOKEN_KEY);
    } catch (error) { /* private mode: this page only */ }
  }

  async function fetchToken() {
    var body = { device_id: deviceId() };
    if (config.src) body.src = config.src;
    if (config.share) body.share = config.share;
    var data = null;
    var kept = keptToken();
    if (kept) {
      try {
        data = await api(config.token_url + "/refresh", Object.assign({ token: kept }, body));
        keepToken(data.token);
      } catch (failure) {
        // Too old, another shop's, a merged customer: forget it. Banned or busy: keep it.
        if (failure.status === 401 || failure.status === 409 || failure.status === 422) keepToken(null);
        data = null;
      }
    }
    if (!data) data = await api(config.token_url, body);
    state.token = data.token;
    window.LiveLoopViewer.token = data.token;
    if (data.viewer && !state.me) state.me = data.viewer;
    // A guest proves the reservation's phone with a texted code; a customer needs neither.
    if (data.viewer && reserveCode) reserveCode.show(String(data.viewer.key || "").indexOf("c:") !== 0);
    if (data.room) applyRoomInfo(data.room);
    emit("liveloop:token", { token: data.token, live_session_id: config.live_session_id });
    return data.token;
  }

  async function getToken(refresh) {
    if (!state.token || refresh) return fetchToken();
    return state.token;
  }

  function applyRoomInfo(room) {
    if (Array.isArray(room.lineup)) products.setLineup(room.lineup);
    if (room.status) setStatus(room.status, room.comments_enabled);
    if (room.hls_url !== undefined) config.hls_url = room.hls_url;
    if (room.announcement !== undefined) setAnnouncement(room.announcement);
    if (room.pinned !== undefined) setPinned(room.pinned);
    if (room.product !== undefined) products.setPushed(room.product);
  }

  // ---- status, video and poster -----------------------------------------------------------

  function setStatus(status, commentsEnabled) {
    state.status = status;
    document.body.dataset.status = status;
    if (commentsEnabled !== undefined) setCommentsEnabled(commentsEnabled);
    $("scheduled-card").hidden = status !== "scheduled";
    $("ended-card").hidden = status !== "ended" && status !== "cancelled";
    if (status === "cancelled") $("ended-title").textContent = t.cancelled;
    $("live-dot").classList.toggle("on", status === "live");
    // Scheduled and ended rooms say so in their card; the poster stays quiet behind it.
    if (status === "live") video.start(config.hls_url);
    else video.stop("");
  }

  // ---- notices ------------------------------------------------------------------------------

  function setAnnouncement(text) {
    $("announcement-text").textContent = text || "";
    $("announcement").hidden = !text;
  }

  function setPinned(pinned) {
    var text = pinned && pinned.text;
    $("pinned-text").textContent = text ? (pinned.by ? pinned.by + ": " : "") + text : "";
    $("pinned").hidden = !text;
  }

  function setCommentsEnabled(enabled) {
    state.commentsEnabled = !!enabled;
    var input = $("comment-input");
    input.disabled = !enabled;
    input.placeholder = enabled ? t.say_something : t.comments_off;
  }

  function setCounts(msg) {
    if (msg.online !== undefined) {
      $("online-count").textContent = String(msg.online);
      $("online-count").dataset.online = String(msg.online);
    }
  }

  // ---- danmaku --------------------------------------------------------------------------------

  function addLine(kind, id, name, text, role) {
    var list = $("danmaku");
    var item = document.createElement("li");
    item.className = "line line-" + kind + (role === "staff" ? " line-staff" : "");
    if (id) item.dataset.id = String(id);
    if (role === "staff") {
      var badge = document.createElement("span");
      badge.className = "role-badge";
      badge.textContent = t.anchor;
      item.appendChild(badge);
    }
    if (name) {
      var who = document.createElement("span");
      who.className = "line-name";
      who.textContent = name + "：";
      item.appendChild(who);
    }
    var body = document.createElement("span");
    body.className = "line-text";
    body.textContent = text;
    item.appendChild(body);
    var nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.appendChild(item);
    while (list.children.length > MAX_DANMAKU) list.removeChild(list.firstChild);
    if (nearBottom) list.scrollTop = list.scrollHeight;
    return item;
  }

  function sendComment(text) {
    var clientId = uuid();
    if (!room.send({ type: "comment", text: text, client_id: clientId })) return false;
    // Shown at once: the room may sample comments out for others, never for their author.
    var line = addLine("comment", null, state.me ? state.me.name : "", text, state.me && state.me.role);
    line.classList.add("line-mine");
    state.mine.push([clientId, line]);
    if (state.mine.length > 20) state.mine.shift();
    return true;
  }

  function takeMine(clientId) {
    for (var i = 0; i < state.mine.length; i += 1) {
      if (state.mine[i][0] === clientId) return state.mine.splice(i, 1)[0][1];
    }
    return null;
  }

  function removeLine(id) {
    var item = $("danmaku").querySelector('[data-id="' + CSS.escape(String(id)) + '"]');
    if (item) item.remove();
  }

  function showTicker(text) {
    var ticker = $("ticker");
    ticker.textContent = text;
    ticker.hidden = false;
    ticker.classList.remove("pop");
    void ticker.offsetWidth; // restart the animation
    ticker.classList.add("pop");
    clearTimeout(ticker._timer);
    ticker._timer = setTimeout(function () { ticker.hidden = true; }, 4000);
  }

  // ---- likes ------------------------------------------------------------------------------------

  function floatHeart() {
    var layer = $("hearts");
    var heart = document.createElement("span");
    heart.className = "heart";
    heart.textContent = "♥";
    heart.style.setProperty("--drift", (Math.random() * 60 - 30).toFixed(0) + "px");
    heart.style.setProperty("--hue", String(Math.floor(Math.random() * 60) + 330));
    layer.appendChild(heart);
    setTimeout(function () { heart.remove(); }, 1600);
  }

  function showLikes(total) {
    state.likeShown = Math.max(state.likeShown, total);
    $("like-total").textContent = shortNumber(state.likeShown);
    $("like-total").dataset.total = String(state.likeShown);
  }

  // Taps are added up and sent every ~300 ms as one count: a fast thumb costs one frame.
  function flushLikes() {
    if (state.likePending <= 0 || !room.isOpen()) return;
    var count = Math.min(state.likePending, MAX_LIKES_PER_SEND);
    if (room.send({ type: "like", count: count })) state.likePending -= count;
  }

  // ---- room messages ------------------------------------------------------------------------------

  function applySnapshot(snapshot) {
    setStatus(snapshot.status, snapshot.comments_enabled);
    setAnnouncement(snapshot.announcement);
    setPinned(snapshot.pinned);
    if (Array.isArray(snapshot.lineup)) products.setLineup(snapshot.lineup);
    products.setPushed(snapshot.product);
    if (snapshot.like_total !== undefined) showLikes(snapshot.like_total);
    setCounts(snapshot);
  }

  var SYSTEM_STICKY = { kicked: true, banned: true };

  function onSystem(msg) {
    if (SYSTEM_STICKY[msg.code]) {
      showGone(msg.code, msg.text);
      return;
    }
    if (REFUSED[msg.code] && state.mine.length) state.mine.pop()[1].remove();
    toast(msg.text || msg.code);
    addLine("system", null, "", msg.text || msg.code, "");
  }

  function showGone(kind, text) {
    $("gone-title").textContent = t["gone_" + kind] || t.gone_closed;
    $("gone-text").textContent = text || "";
    $("gone").hidden = false;
    $("comment-input").disabled = true;
  }

  var handlers = {
    snapshot: function (msg) { applySnapshot(msg.state || {}); },
    joined: function (msg) { state.me = msg.you || null; },
    comment: function (msg) {
      var mine = msg.client_id ? takeMine(msg.client_id) : null;
      if (mine) {
        mine.dataset.id = String(msg.id);
        mine.querySelector(".line-text").textContent = msg.text; // masked words, as others see it
        return;
      }
      var user = msg.user || {};
      addLine("comment", msg.id, user.name || "", msg.text, user.role);
    },
    comment_deleted: function (msg) { removeLine(msg.id); },
    like_total: function (msg) { showLikes(msg.total); },
    viewer_count: setCounts,
    announcement: function (msg) { setAnnouncement(msg.text); },
    pinned: function (msg) { setPinned(msg.message); },
    product_push: function (msg) { products.setPushed(msg.product); },
    product_unpush: function (msg) {
      products.unpush(msg.product_id);
    },
    product_stock: function (msg) { products.applyStock(msg); },
    room_state: function (msg) { setStatus(msg.status, msg.comments_enabled); },
    system: onSystem,
    gift: function (msg) {
      var user = msg.user || {};
      addLine("gift", null, user.name || "", format(t.sent_gift, { gift: msg.gift, count: msg.count }), user.role);
    },
    order_ticker: function (msg) {
      showTicker(format(t.just_bought, { name: msg.name, product: msg.product_name }));
    },
  };

  function onMessages(msgs) {
    msgs.forEach(function (msg) {
      var handler = handlers[msg.type];
      if (handler) handler(msg);
      emit("liveloop:room-message", msg);
    });
  }

  function onState(kind, detail) {
    var banner = $("connection");
    if (kind === "live") {
      banner.hidden = true;
    } else if (kind === "retrying") {
      banner.textContent = t.reconnecting;
      banner.hidden = false;
    } else if (kind === "closed") {
      banner.hidden = true;
      if (detail.kind === "ended") setStatus("ended");
      else showGone(detail.kind, detail.reason);
    }
  }

  var room = new window.LiveLoopRoomSocket({
    path: config.ws_path,
    getToken: getToken,
    onMessages: onMessages,
    onState: onState,
  });

  // ---- reservation and share ------------------------------------------------------------------------

  var reserveCode = null; // the phone-code field of the reservation form (bound in wire())

  async function reserve(event) {
    event.preventDefault();
    var phone = $("reserve-phone").value.trim();
    var error = $("reserve-error");
    error.hidden = true;
    if (!/^1\d{10}$/.test(phone)) {
      error.textContent = t.bad_phone;
      error.hidden = false;
      return;
    }
    try {
      await getToken(false);
      var body = { phone: phone };
      if (reserveCode && reserveCode.code()) body.phone_code = reserveCode.code();
      var answer = await api(config.reserve_url, body, true);
      // The guest is now a customer: later requests (and the next join) speak as them.
      if (answer && answer.token) window.LiveLoopViewer.setToken(answer.token);
      if (reserveCode) reserveCode.show(false);
      $("reserve-form").hidden = true;
      $("reserve-done").hidden = false;
    } catch (failure) {
      error.textContent = failure.message;
      error.hidden = false;
    }
  }

  async function share() {
    try {
      await getToken(false);
      var data = await api(config.share_url, {}, true);
      var url = new URL(data.url, window.location.href).href;
      if (navigator.share) {
        try {
          await navigator.share({ title: document.title, url: url });
          return;
        } catch (error) { /* cancelled or refused: copy instead */ }
      }
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(url);
        toast(t.link_copied);
      } else {
        window.prompt(t.copy_this_link, url);
      }
    } catch (failure) {
      toast(failure.message);
    }
  }

  function countdown() {
    if (state.status !== "scheduled" || !config.planned_start) return;
    var left = Math.max(0, Math.floor((Date.parse(config.planned_start) - Date.now()) / 1000));
    var days = Math.floor(left / 86400), hours = Math.floor(left % 86400 / 3600);
    var minutes = Math.floor(left % 3600 / 60), seconds = left % 60;
    var values = { days: days, hours: hours, minutes: minutes, seconds: seconds };
    if (left <= 0) $("countdown").textContent = t.starting_soon;
    else $("countdown").textContent = format(days > 0 ? t.countdown_days : t.countdown, values);
  }

  // ---- wiring ----------------------------------------------------------------------------------------

  function openDrawer(open) {
    $("drawer").hidden = !open;
    $("drawer-backdrop").hidden = !open;
  }

  function wire() {
    if (config.cover_url) $("poster").style.backgroundImage = "url(" + JSON.stringify(config.cover_url) + ")";
    $("comment-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var input = $("comment-input");
      var text = input.value.trim();
      if (!text) return;
      if (!state.commentsEnabled) { toast(t.comments_off); return; }
      if (sendComment(text)) input.value = "";
      else toast(t.reconnecting);
    });
    $("like-button").addEventListener("click", function () {
      state.likePending += 1;
      showLikes(state.likeShown + 1);
      floatHeart();
    });
    $("bag-button").addEventListener("click", function () { openDrawer(true); });
    $("drawer-close").addEventListener("click", function () { openDrawer(false); });
    $("drawer-backdrop").addEventListener("click", function () { openDrawer(false); });
    $("reserve-form").addEventListener("submit", reserve);
    reserveCode = window.LiveLoopPhoneCode.bind($("reserve-code"), function () { return state.token; });
    $("share-button").addEventListener("click", share);
    setInterval(flushLikes, LIKE_FLUSH_MS);
    setInterval(countdown, 1000);
    countdown();
  }

  window.LiveLoopViewer = {
    token: null,
    liveSessionId: config.live_session_id,
    code: config.code,
    /** Commerce may swap the guest token for a customer's one (after a phone is given). */
    setToken: function (token) {
      keepToken(token); // only a customer's token comes this way (phone login, reservation)
      var changed = token !== state.token;
      state.token = token;
      this.token = token;
      // The socket joined as a guest: join again, so that comments, likes and watch time
      // count for the customer (lottery entries, points) from now on.
      if (changed && room.isOpen()) room.rejoin();
    },
    send: function (message) { return room.send(message); },
  };

  wire();
  setStatus(config.status, true);
  if (config.room) applyRoomInfo(config.room);
  if (config.status === "live" || config.status === "scheduled") room.start();
  else getToken(false).catch(function () { /* ended room: the token only serves buying */ });
})();
