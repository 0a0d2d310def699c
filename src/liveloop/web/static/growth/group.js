/* Group share page: countdown to the deadline, and joining with an address (a guest becomes a
 * customer by the phone, proven by a texted code, as at checkout), then the payment page. */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("llg-config").textContent);
  var t = JSON.parse(document.getElementById("llg-i18n").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var DEVICE_KEY = "liveloop.device_id";
  var TOKEN_KEY = "liveloop.buyer_token.";

  function storageGet(key) { try { return window.localStorage.getItem(key); } catch (e) { return null; } }
  function storageSet(key, value) { try { window.localStorage.setItem(key, value); } catch (e) { /* private mode */ } }
  function uuid() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    return "d" + Date.now().toString(36) + Math.random().toString(36).slice(2);
  }
  function deviceId() {
    var id = storageGet(DEVICE_KEY);
    if (!id) { id = uuid(); storageSet(DEVICE_KEY, id); }
    return id;
  }

  async function api(method, path, body, token, extra) {
    var headers = { "Content-Type": "application/json", "Accept": "application/json" };
    if (token) headers.Authorization = "Bearer " + token;
    Object.assign(headers, extra || {});
    var response = await fetch("/api/v1/public" + path, { method: method, headers: headers, body: JSON.stringify(body || {}) });
    var data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) throw new Error((data && data.message) || t.failed);
    return data;
  }

  // Starting a group from a live room (/group-buy/{id}?room=…, config.campaign_id): the room's
  // guest token and the campaign's "open a group" route. Otherwise: joining this group.
  var starting = Boolean(config.campaign_id);
  function guestToken() {
    if (!starting) return api("POST", "/group-buys/groups/" + config.code + "/token", { device_id: deviceId() });
    return api("POST", "/live/" + encodeURIComponent(config.room_code) + "/token", { device_id: deviceId() })
      .then(function (data) { return { shop_id: config.shop_id, viewer_token: data.token }; });
  }
  var buyPath = starting ? "/group-buys/" + config.campaign_id + "/groups" : "/group-buys/groups/" + config.code + "/join";

  // The server's clock decides; the page only counts down from the offset it was given.
  var offset = Date.parse(config.now) - Date.now();
  var deadline = Date.parse(config.expires_at);
  function tick() {
    var box = $("llg-countdown");
    if (!box) return;
    var left = Math.max(0, deadline - (Date.now() + offset));
    if (left === 0) {
      box.textContent = t.ended;
      var join = $("llg-join");
      if (join) join.hidden = true;
      return;
    }
    var s = Math.floor(left / 1000);
    box.textContent = t.left.replace("{h}", Math.floor(s / 3600)).replace("{m}", Math.floor(s / 60) % 60).replace("{s}", s % 60);
    setTimeout(tick, 1000);
  }
  tick();

  var form = $("llg-join");
  if (!form) return;
  var idempotencyKey = uuid();
  // This device's guest token for the group's shop (the share link is the capability); it asks
  // for the phone code. A customer token saved on this phone needs no code.
  var guest = null;
  var guestReady = guestToken()
    .then(function (found) { guest = found; phoneCode.show(!storageGet(TOKEN_KEY + found.shop_id)); return found; });
  var phoneCode = window.LiveLoopPhoneCode.bind($("llg-phone-code"), function () { return guest && guest.viewer_token; });
  guestReady.catch(function () { phoneCode.show(true); });
  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    var button = $("llg-join-button");
    var error = $("llg-error");
    error.hidden = true;
    button.disabled = true;
    try {
      var shopToken = null;
      guest = guest || await guestToken();
      shopToken = storageGet(TOKEN_KEY + guest.shop_id) || guest.viewer_token;
      var data = new FormData(form);
      var address = {};
      data.forEach(function (value, key) { address[key] = String(value).trim(); });
      var joined = await api("POST", buyPath,
        { address: address, quantity: 1 }, shopToken, { "Idempotency-Key": idempotencyKey });
      if (joined.viewer_token) {
        storageSet(TOKEN_KEY + guest.shop_id, joined.viewer_token);
        shopToken = joined.viewer_token;
        phoneCode.show(false);
      }
      error.textContent = t.paying;
      error.hidden = false;
      var payment = await api("POST", "/orders/" + joined.order.id + "/payments",
        { provider: "demo", return_url: "/group/" + joined.group.code }, shopToken, { "Idempotency-Key": "pay-" + joined.order.id });
      var url = (payment.prepay || {}).pay_url || (payment.prepay || {}).h5_url;
      if (url) window.location.href = url;
    } catch (problem) {
      error.textContent = problem.message;
      error.hidden = false;
      button.disabled = false;
    }
  });
})();
