/* The red packet (红包) of the live room: a rain of packets during the grab window; a tap
 * grabs one share (POST /api/v1/public/red-packets/{id}/grab) and shows what it was, or
 * "too slow". A guest signs in with a phone code first (customer_required). Follows the room
 * through `liveloop:room-message` (snapshot: state.promotions.red_packet; red_packet).
 * Text from people goes in with textContent only.
 */
(function () {
  "use strict";

  var root = document.getElementById("llrp");
  if (!root) return;
  var t = JSON.parse(document.getElementById("llrp-i18n").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var card = null;
  var offset = 0; // server clock minus this phone's clock, in ms
  var ended = {}; // ids seen closed: a late progress message never reopens them
  var dismissed = {};
  var fetched = {};
  var results = {};
  var grabbing = false;
  var rainTimer = null;
  var phoneCode = null;

  function money(fen) {
    return "¥" + Math.floor(fen / 100) + "." + String(fen % 100).padStart(2, "0");
  }
  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_, key) { return values[key]; });
  }
  function token() { return (window.LiveLoopViewer && window.LiveLoopViewer.token) || ""; }
  function now() { return Date.now() + offset; }

  async function api(method, url, body) {
    var response = await fetch("/api/v1/public" + url, {
      method: method,
      headers: { "Content-Type": "application/json", Accept: "application/json",
        Authorization: "Bearer " + token() },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    var data = await response.json().catch(function () { return {}; });
    if (!response.ok) {
      var error = new Error(data.message || t.failed);
      error.code = data.code;
      throw error;
    }
    return data;
  }

  function stateNow() {
    if (!card) return "none";
    if (card.state === "ended" || card.state === "stopped") return "ended";
    if (now() >= Date.parse(card.ends_at)) return "ended";
    if (now() < Date.parse(card.starts_at)) return "scheduled";
    return "open";
  }

  function conditionText(condition) {
    var kind = (condition || {}).kind || "none";
    if (kind === "none" || !t[kind]) return "";
    return fill(t[kind], { keyword: condition.keyword || "", s: condition.min_watch_seconds || 0 });
  }

  function showResult(text) {
    $("llrp-result").textContent = text;
    $("llrp-result").hidden = !text;
  }

  async function showBalance() {
    try {
      var balance = await api("GET", "/red-packets/balance");
      $("llrp-balance").textContent = fill(t.balance, { amount: money(balance.balance_fen) });
      $("llrp-balance").hidden = false;
    } catch (error) { /* a guest has no balance yet */ }
  }

  function startRain() {
    if (rainTimer || window.matchMedia("(prefers-reduced-motion: reduce)").matches) return;
    rainTimer = setInterval(function () {
      var rain = $("llrp-rain");
      if (rain.childElementCount > 24) return;
      var drop = document.createElement("button");
      drop.type = "button";
      drop.className = "llrp-drop";
      drop.tabIndex = -1;
      drop.style.left = Math.floor(Math.random() * 88) + "%";
      drop.style.animationDuration = (2.2 + Math.random() * 2) + "s";
      drop.addEventListener("click", grab);
      drop.addEventListener("animationend", function () { drop.remove(); });
      rain.appendChild(drop);
    }, 260);
  }

  function stopRain() {
    clearInterval(rainTimer);
    rainTimer = null;
    $("llrp-rain").textContent = "";
  }

  function render() {
    var state = stateNow();
    if (!card || now() >= Date.parse(card.show_until)) {
      root.hidden = true;
      $("llrp-chip").hidden = true;
      stopRain();
      return;
    }
    var mine = results[card.id];
    var away = dismissed[card.id];
    root.hidden = Boolean(away);
    $("llrp-chip").hidden = !away || state === "ended";
    $("llrp-greeting").textContent = card.greeting || money(card.total_fen);
    var seconds;
    if (state === "scheduled") {
      seconds = Math.ceil((Date.parse(card.starts_at) - now()) / 1000);
      $("llrp-clock").textContent = fill(t.starts_in, { s: seconds });
    } else if (state === "open") {
      seconds = Math.ceil((Date.parse(card.ends_at) - now()) / 1000);
      $("llrp-clock").textContent = fill(t.ends_in, { s: seconds });
    } else {
      $("llrp-clock").textContent = t.ended;
    }
    $("llrp-chip-clock").textContent = state === "ended" ? "" : seconds + "s";
    $("llrp-left").textContent = fill(t.left, { n: card.remaining_count, count: card.count });
    var condition = conditionText(card.condition);
    $("llrp-condition").textContent = condition;
    $("llrp-condition").hidden = !condition;
    $("llrp-grab").hidden = state === "ended" || Boolean(mine);
    $("llrp-grab").disabled = state !== "open" || grabbing;
    if (state === "open" && !mine && !away) startRain();
    else stopRain();
    if (state === "ended" && !mine && $("llrp-result").hidden) showResult(t.too_slow);
  }

  function onCard(next) {
    if (!next) { card = null; render(); return; }
    if (next.state === "ended" || next.state === "stopped") ended[next.id] = true;
    else if (ended[next.id]) return;
    if (next.server_time) offset = Date.parse(next.server_time) - Date.now();
    if (!card || card.id !== next.id) {
      showResult("");
      $("llrp-login").hidden = true;
    }
    card = next;
    if (!fetched[card.id] && token()) {
      fetched[card.id] = true;
      api("GET", "/red-packets/" + card.id).then(function (fresh) {
        if (fresh.mine) {
          results[fresh.id] = fresh.mine.amount_fen;
          showResult(fill(t.grabbed, { amount: money(fresh.mine.amount_fen) }));
          showBalance();
        }
        if (card && card.id === fresh.id && !ended[fresh.id]) onCard(fresh);
        else render();
      }).catch(function () { /* the room's card is enough */ });
    }
    render();
  }

  async function grab() {
    if (!card || grabbing || results[card.id] || stateNow() !== "open") return;
    grabbing = true;
    render();
    var id = card.id;
    try {
      var result = await api("POST", "/red-packets/" + id + "/grab");
      results[id] = result.amount_fen;
      stopRain();
      showResult(fill(t.grabbed, { amount: money(result.amount_fen) }));
      $("llrp-balance").textContent = fill(t.balance, { amount: money(result.balance_fen) });
      $("llrp-balance").hidden = false;
      if (card && card.id === id) onCard(result.card);
    } catch (error) {
      if (error.code === "customer_required") {
        $("llrp-login").hidden = false;
        if (phoneCode) phoneCode.show(true);
        showResult("");
      } else if (error.code === "red_packet_empty" || error.code === "red_packet_ended") {
        results[id] = 0;
        stopRain();
        showResult(t.too_slow);
      } else {
        showResult(error.message);
      }
    } finally {
      grabbing = false;
      render();
    }
  }

  async function signIn(event) {
    event.preventDefault();
    var phone = $("llrp-phone").value.trim();
    try {
      var answer = await api("POST", "/phone-login", {
        phone: phone, code: phoneCode ? phoneCode.code() : "",
      });
      if (window.LiveLoopViewer && window.LiveLoopViewer.setToken) {
        window.LiveLoopViewer.setToken(answer.viewer_token);
      }
      $("llrp-login").hidden = true;
      await grab();
    } catch (error) {
      showResult(error.message);
    }
  }

  function wire() {
    if (window.LiveLoopPhoneCode) phoneCode = window.LiveLoopPhoneCode.bind($("llrp-phone-code"), token);
    $("llrp-grab").addEventListener("click", grab);
    $("llrp-login").addEventListener("submit", signIn);
    $("llrp-x").addEventListener("click", function () {
      if (card) dismissed[card.id] = true;
      render();
    });
    $("llrp-chip").addEventListener("click", function () {
      if (card) delete dismissed[card.id];
      render();
    });
    setInterval(function () { if (card) render(); }, 250);
  }

  document.addEventListener("liveloop:room-message", function (event) {
    var msg = event.detail || {};
    if (msg.type === "snapshot") onCard(((msg.state || {}).promotions || {}).red_packet || null);
    else if (msg.type === "red_packet") onCard(msg.card || null);
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
  else wire();
})();
