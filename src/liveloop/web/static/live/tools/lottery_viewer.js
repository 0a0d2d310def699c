/* The lottery (福袋) on the viewer page (live/tools/_lottery_viewer.html).
 *
 * Follows the room's `lottery` card (in the snapshot's promotions too) and the personal
 * `lottery_entry`; enters by sending the keyword as a comment through the room socket, or by
 * tapping (POST …/join) for the other conditions; shows the winners and, for a winner of a
 * product, the address form. Names come masked from the server and go in with textContent.
 */
(function () {
  "use strict";

  var t = JSON.parse(document.getElementById("llt-i18n").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var card = null;
  var me = null; // this viewer's standing, from GET /api/v1/public/lotteries/{id}
  var opened = {}; // lottery ids whose sheet opened by itself once

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

  function secondsLeft() {
    return card ? Math.max(0, Math.ceil((Date.parse(card.ends_at) - Date.now()) / 1000)) : 0;
  }

  function clock(seconds) {
    return Math.floor(seconds / 60) + ":" + String(seconds % 60).padStart(2, "0");
  }

  function note(text) {
    var box = $("llt-note");
    box.textContent = text;
    box.hidden = !text;
  }

  function ruleText(condition) {
    var rule = t.rules[condition.kind] || "";
    return format(rule, {
      keyword: condition.keyword || "",
      minutes: Math.ceil((condition.min_watch_seconds || 0) / 60),
    });
  }

  function render() {
    var badge = $("llt-badge");
    if (!card) {
      badge.hidden = true;
      $("llt-sheet").hidden = true;
      return;
    }
    var running = card.state === "running";
    var left = secondsLeft();
    badge.hidden = false;
    $("llt-badge-time").textContent = running ? (left ? clock(left) : "…") : t.kicker_drawn;
    $("llt-title").textContent = card.title;
    $("llt-prize").textContent = format(t.prize, { prize: card.prize.name, count: card.winner_count });
    $("llt-rule").textContent = ruleText(card.condition || {});
    $("llt-kicker").textContent = running
      ? (left ? format(t.kicker_running, { time: clock(left) }) : t.kicker_drawing)
      : (card.state === "cancelled" ? t.kicker_cancelled : t.kicker_drawn);
    var enter = $("llt-enter");
    enter.hidden = !running;
    enter.disabled = !left || !!(me && me.joined);
    var kind = (card.condition || {}).kind;
    enter.textContent = kind === "keyword" ? format(t.send_keyword, { keyword: card.condition.keyword })
      : kind === "comment" ? t.comment_to_enter : t.tap_to_enter;
    renderResult();
  }

  function renderResult() {
    var box = $("llt-result");
    if (!card || card.state === "running") { box.hidden = true; return; }
    box.hidden = false;
    $("llt-verify").href = card.verify_url;
    var winners = card.winners || [];
    var mine = me && me.ticket;
    var list = $("llt-winners");
    list.textContent = "";
    winners.forEach(function (winner) {
      var item = document.createElement("li");
      item.textContent = winner.name + " · " + winner.ticket;
      if (mine && winner.ticket === mine) item.className = "mine";
      list.appendChild(item);
    });
    var won = !!(me && me.won);
    var outcome = card.state === "cancelled" ? t.kicker_cancelled
      : !winners.length ? t.nobody
      : won ? (me.needs_address ? t.won_address : t.won)
      : format(t.lost, { entrants: card.entrant_count });
    $("llt-outcome").textContent = outcome;
    $("llt-address").hidden = !(won && me.needs_address);
  }

  async function refreshMine() {
    if (!card || !viewer().token) return;
    try {
      var data = await call("GET", "/api/v1/public/lotteries/" + card.id);
      me = data.me;
      if (data.winners) card.winners = data.winners;
    } catch (error) { me = null; }
    render();
  }

  function show(next) {
    var fresh = !card || !next || card.id !== next.id;
    var finished = card && next && card.id === next.id && card.state === "running" && next.state !== "running";
    card = next;
    if (fresh) { me = null; note(""); }
    if (!card) { render(); return; }
    if (card.state === "running" && !opened[card.id]) {
      opened[card.id] = true;
      $("llt-sheet").hidden = false;
    }
    if (finished) $("llt-sheet").hidden = false;
    render();
    if (fresh || finished) refreshMine();
  }

  // The keyword goes out as a comment through the room socket; right after a phone login the
  // socket is joining again, so a send that finds it closed is tried again shortly.
  function sendKeyword(keyword, triesLeft) {
    var sent = viewer().send({ type: "comment", text: keyword, client_id: "lottery-" + Date.now() });
    if (!sent && triesLeft > 0) setTimeout(function () { sendKeyword(keyword, triesLeft - 1); }, 500);
  }

  async function enter() {
    if (!card) return;
    var kind = (card.condition || {}).kind;
    if (kind === "keyword" || kind === "comment") {
      if (kind === "comment") {
        var input = document.getElementById("comment-input");
        if (input) input.focus();
        return;
      }
      sendKeyword(card.condition.keyword, 10);
      return;
    }
    try {
      me = await call("POST", "/api/v1/public/lotteries/" + card.id + "/join");
      note(format(t.entered, { ticket: me.ticket }));
    } catch (error) {
      if (error.code === "customer_required") askPhone();
      else note(error.message);
    }
    render();
  }

  var phoneCode = null;

  function askPhone() {
    note(t.need_phone);
    $("llt-login").hidden = false;
    if (!phoneCode && window.LiveLoopPhoneCode) {
      phoneCode = window.LiveLoopPhoneCode.bind($("llt-phone-code"), function () { return viewer().token; });
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
      $("llt-login").hidden = true;
      me = null;
      note(t.logged_in);
      refreshMine();
    } catch (error) {
      note(error.message);
    }
  }

  async function sendAddress(event) {
    event.preventDefault();
    var form = event.target;
    var data = Object.fromEntries(new FormData(form).entries());
    try {
      me = await call("POST", "/api/v1/public/lotteries/" + card.id + "/address", data);
      note(t.address_saved);
    } catch (error) {
      note(error.message);
    }
    render();
  }

  document.addEventListener("liveloop:room-message", function (event) {
    var msg = event.detail || {};
    if (msg.type === "snapshot") {
      var cards = (msg.state || {}).promotions || {};
      show(cards.lottery || null);
    } else if (msg.type === "lottery") {
      show(msg.card);
    } else if (msg.type === "lottery_entry" && card && msg.lottery_id === card.id) {
      if (msg.entered) {
        me = Object.assign({}, me || {}, { joined: true });
        note(t.entered_comment);
      } else {
        askPhone();
      }
      render();
    }
  });
  $("llt-badge").addEventListener("click", function () { $("llt-sheet").hidden = !$("llt-sheet").hidden; });
  $("llt-close").addEventListener("click", function () { $("llt-sheet").hidden = true; });
  $("llt-enter").addEventListener("click", enter);
  $("llt-address").addEventListener("submit", sendAddress);
  $("llt-login").addEventListener("submit", login);
  setInterval(function () {
    if (!card) return;
    if (card.show_until && Date.parse(card.show_until) < Date.now()) { show(null); return; }
    if (card.state === "running") render();
  }, 1000);
})();
