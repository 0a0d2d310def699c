/* Fission invite page: accept a friend's invitation (a guest names themselves by phone), then
   get one's own link, poster and progress. */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("llf-config").textContent);
  var t = JSON.parse(document.getElementById("llf-i18n").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var DEVICE_KEY = "liveloop.device_id";
  var TOKEN_KEY = "liveloop.buyer_token.";
  var BASE = "/api/v1/public/fission";

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
  async function api(method, path, body, token) {
    var headers = { "Accept": "application/json" };
    if (body) headers["Content-Type"] = "application/json";
    if (token) headers.Authorization = "Bearer " + token;
    var response = await fetch(BASE + path, { method: method, headers: headers, body: body ? JSON.stringify(body) : undefined });
    var data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) throw new Error((data && data.message) || t.failed);
    return data;
  }

  var token = null;
  async function viewerToken() {
    if (token) return token;
    var path = config.invite_code ? "/invites/" + config.invite_code + "/token" : "/campaigns/" + config.campaign_code + "/token";
    var guest = await api("POST", path, { device_id: deviceId() });
    token = storageGet(TOKEN_KEY + "fission." + config.campaign_code) || guest.viewer_token;
    return token;
  }
  function keepToken(value) {
    if (!value) return;
    token = value;
    storageSet(TOKEN_KEY + "fission." + config.campaign_code, value);
  }

  function showMine(mine) {
    var link = window.location.origin + mine.link_path;
    $("llf-link").value = link;
    $("llf-poster").src = mine.poster_svg;
    $("llf-png").href = mine.poster_png;
    $("llf-progress").textContent = t.progress.replace("{counted}", mine.counted).replace("{needed}", mine.invitees_needed);
    $("llf-bar").style.width = Math.min(100, Math.round(100 * mine.counted / mine.invitees_needed)) + "%";
    $("llf-mine").hidden = false;
    $("llf-join").hidden = true;
    $("llf-identify").hidden = true;
  }

  function identity(form) {
    var data = new FormData(form);
    return {
      phone: String(data.get("phone") || "").trim(),
      phone_code: String(data.get("phone_code") || "").trim() || null,
      name: String(data.get("name") || "").trim()
    };
  }

  async function join(form) {
    var body = form ? identity(form) : {};
    var mine = await api("POST", "/campaigns/" + config.campaign_code + "/join", body, await viewerToken());
    keepToken(mine.viewer_token);
    showMine(mine);
  }

  var form = $("llf-identify");
  if (!form) return;
  // A guest proves the phone with the texted code; a customer token saved here needs none.
  var phoneCode = window.LiveLoopPhoneCode.bind($("llf-phone-code"), function () { return token; });
  viewerToken()
    .then(function () { phoneCode.show(!storageGet(TOKEN_KEY + "fission." + config.campaign_code)); })
    .catch(function () { phoneCode.show(true); });
  // A participant coming back to the campaign page sees their link and progress again.
  if (!config.invite_code && storageGet(TOKEN_KEY + "fission." + config.campaign_code)) {
    token = storageGet(TOKEN_KEY + "fission." + config.campaign_code);
    fetch(BASE + "/campaigns/" + config.campaign_code + "/me", { headers: { "Accept": "application/json", "Authorization": "Bearer " + token } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (mine) { if (mine) showMine(mine); })
      .catch(function () { /* not taking part yet: the form stays */ });
  }
  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    var button = $("llf-submit");
    var error = $("llf-error");
    error.hidden = true;
    button.disabled = true;
    try {
      if (!config.invite_code) { await join(form); return; }
      var outcome = await api("POST", "/invites/" + config.invite_code + "/accept",
        identity(form), await viewerToken());
      keepToken(outcome.viewer_token);
      var result = $("llf-result");
      result.dataset.status = outcome.status;
      result.textContent = outcome.status === "rejected" ? ((t.reasons || {})[outcome.reason] || outcome.message) : t[outcome.status];
      result.hidden = false;
      form.hidden = true;
      $("llf-join").hidden = false;
    } catch (problem) {
      error.textContent = problem.message;
      error.hidden = false;
      button.disabled = false;
    }
  });

  $("llf-join-button").addEventListener("click", async function () {
    try { await join(null); } catch (problem) {
      var result = $("llf-result");
      result.textContent = problem.message;
      result.hidden = false;
    }
  });
  $("llf-copy").addEventListener("click", async function () {
    var input = $("llf-link");
    try { await navigator.clipboard.writeText(input.value); } catch (e) { input.select(); }
    $("llf-copy").textContent = t.copied;
  });
})();
