/* Assist share page: countdown, and helping once (a guest names themselves by phone, proven by
 * a texted code). */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("llg-config").textContent);
  var t = JSON.parse(document.getElementById("llg-i18n").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var DEVICE_KEY = "liveloop.device_id";
  var TOKEN_KEY = "liveloop.buyer_token.";

  function storageGet(key) { try { return window.localStorage.getItem(key); } catch (e) { return null; } }
  function storageSet(key, value) { try { window.localStorage.setItem(key, value); } catch (e) { /* private mode */ } }
  function deviceId() {
    var id = storageGet(DEVICE_KEY);
    if (!id) {
      id = (window.crypto && window.crypto.randomUUID) ? window.crypto.randomUUID() : "d" + Date.now().toString(36) + Math.random().toString(36).slice(2);
      storageSet(DEVICE_KEY, id);
    }
    return id;
  }
  async function api(path, body, token) {
    var headers = { "Content-Type": "application/json", "Accept": "application/json" };
    if (token) headers.Authorization = "Bearer " + token;
    var response = await fetch("/api/v1/public/assists" + path, { method: "POST", headers: headers, body: JSON.stringify(body || {}) });
    var data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) throw new Error((data && data.message) || t.failed);
    return data;
  }

  var offset = Date.parse(config.now) - Date.now();
  var deadline = Date.parse(config.expires_at);
  function tick() {
    var box = $("llg-countdown");
    if (!box) return;
    var left = Math.max(0, deadline - (Date.now() + offset));
    if (left === 0) { box.textContent = t.ended; var form = $("llg-help"); if (form) form.hidden = true; return; }
    var s = Math.floor(left / 1000);
    box.textContent = t.left.replace("{h}", Math.floor(s / 3600)).replace("{m}", Math.floor(s / 60) % 60).replace("{s}", s % 60);
    setTimeout(tick, 1000);
  }
  tick();

  var form = $("llg-help");
  if (!form) return;
  // This device's guest token asks for the phone code; a saved customer token needs none.
  var guest = null;
  var phoneCode = window.LiveLoopPhoneCode.bind($("llg-phone-code"), function () { return guest && guest.viewer_token; });
  api("/" + config.code + "/token", { device_id: deviceId() })
    .then(function (found) { guest = found; phoneCode.show(!storageGet(TOKEN_KEY + found.shop_id)); })
    .catch(function () { phoneCode.show(true); });
  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    var button = $("llg-help-button");
    var error = $("llg-error");
    error.hidden = true;
    button.disabled = true;
    try {
      guest = guest || await api("/" + config.code + "/token", { device_id: deviceId() });
      var token = storageGet(TOKEN_KEY + guest.shop_id) || guest.viewer_token;
      var data = new FormData(form);
      var body = { phone: String(data.get("phone") || "").trim(), name: String(data.get("name") || "").trim() };
      if (phoneCode.code()) body.phone_code = phoneCode.code();
      var helped = await api("/" + config.code + "/help", body, token);
      if (helped.viewer_token) storageSet(TOKEN_KEY + guest.shop_id, helped.viewer_token);
      error.textContent = t.thanks;
      error.hidden = false;
      setTimeout(function () { window.location.reload(); }, 800);
    } catch (problem) {
      error.textContent = problem.message;
      error.hidden = false;
      button.disabled = false;
    }
  });
})();
