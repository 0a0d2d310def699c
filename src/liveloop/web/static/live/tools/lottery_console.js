/* Lottery section of the anchor console (live/tools/_lottery_console.html).
 *
 * Starts a lottery through the lottery API, follows the room's `lottery` card (the same card
 * viewers get), and lists the session's lotteries with their entrants, seed and prizes.
 * Everything a person wrote is shown with textContent.
 */
(function () {
  "use strict";

  var panel = document.getElementById("lottery-panel");
  if (!panel || !window.LiveLoopConsole) return;
  var api = window.LiveLoopConsole;
  var t = JSON.parse(document.getElementById("lottery-i18n").textContent);
  var liveId = panel.dataset.liveSessionId;
  var $ = function (id) { return document.getElementById(id); };
  var current = null;

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, name) {
      return values[name] === undefined ? "" : String(values[name]);
    });
  }

  function left(card) {
    var ms = Date.parse(card.ends_at) - Date.now();
    if (ms <= 0) return null;
    var s = Math.ceil(ms / 1000);
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  function showCurrent(card) {
    current = card;
    var box = $("lottery-current");
    if (!card) { box.hidden = true; return; }
    box.hidden = false;
    $("lottery-current-title").textContent = card.title;
    $("lottery-current-prize").textContent = card.prize.name + " × " + card.winner_count;
    $("lottery-current-hash").textContent = format(t.commitment, { hash: card.seed_hash });
    var link = $("lottery-draw-link");
    link.href = card.verify_url;
    link.hidden = false;
    var running = card.state === "running";
    $("lottery-close").hidden = !running;
    $("lottery-cancel").hidden = !running;
    var list = $("lottery-current-winners");
    list.textContent = "";
    (card.winners || []).forEach(function (winner) {
      var item = document.createElement("li");
      item.textContent = winner.name + " · " + winner.ticket;
      list.appendChild(item);
    });
    tick();
  }

  function tick() {
    if (!current) return;
    var state = $("lottery-current-state");
    if (current.state === "running") {
      var time = left(current);
      state.textContent = time ? format(t.running, { time: time }) : t.drawing;
    } else if (current.state === "drawn") {
      state.textContent = format(t.drawn, { entrants: current.entrant_count }) +
        (current.winners && current.winners.length ? "" : " · " + t.no_winner);
    } else {
      state.textContent = t.cancelled;
    }
  }

  function formBody(form) {
    var data = new FormData(form);
    var kind = data.get("prize_kind");
    var body = {
      title: data.get("title"),
      prize_kind: kind,
      winner_count: Number(data.get("winner_count")),
      duration_seconds: Number(data.get("duration_seconds")),
      exclude_banned: !!data.get("exclude_banned"),
      exclude_winners_today: !!data.get("exclude_winners_today"),
      exclude_staff: !!data.get("exclude_staff"),
      condition: { kind: data.get("condition_kind") },
    };
    if (kind === "points") body.prize_points = Number(data.get("prize_points"));
    if (kind === "coupon") body.prize_coupon_id = Number(data.get("prize_coupon_id")) || null;
    if (kind === "product") body.prize_product_id = Number(data.get("prize_product_id")) || null;
    if (kind === "custom") body.prize_name = data.get("prize_name");
    var condition = body.condition;
    if (condition.kind === "keyword") condition.keyword = data.get("keyword");
    if (condition.kind === "community") condition.community_id = Number(data.get("community_id")) || null;
    if (condition.kind === "watch_time") condition.min_watch_seconds = Number(data.get("min_watch_minutes")) * 60;
    return body;
  }

  function toggle(attribute, value) {
    panel.querySelectorAll("[" + attribute + "]").forEach(function (element) {
      element.hidden = element.getAttribute(attribute) !== value;
    });
  }

  async function fillSelect(select, url, label, empty) {
    try {
      var data = await api.call("GET", url);
      var items = data.items || data;
      select.textContent = "";
      items.forEach(function (item) {
        var option = document.createElement("option");
        option.value = item.id;
        option.textContent = label(item);
        select.appendChild(option);
      });
      if (!items.length) {
        var none = document.createElement("option");
        none.value = "";
        none.textContent = empty;
        select.appendChild(none);
      }
    } catch (error) { /* toasted by the console helper */ }
  }

  async function loadHistory() {
    var list = $("lottery-history-list");
    var lotteries = await api.call("GET", "/api/v1/live/" + liveId + "/lotteries");
    list.textContent = "";
    lotteries.forEach(function (lottery) {
      var item = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "link";
      button.textContent = lottery.title + " · " + lottery.prize_name + " · " +
        (t.status[lottery.status] || lottery.status) + " · " +
        format(t.winners, { count: lottery.winner_tickets.length });
      button.addEventListener("click", function () { showDetail(lottery.id); });
      item.appendChild(button);
      list.appendChild(item);
    });
    if (!current && lotteries.length && lotteries[0].status === "running") {
      var card = await api.call("GET", "/api/v1/lotteries/" + lotteries[0].id);
      showCurrent(toCard(card));
    }
  }

  function toCard(lottery) {
    return {
      id: lottery.id, title: lottery.title, state: lottery.status, ends_at: lottery.ends_at,
      seed_hash: lottery.seed_hash, winner_count: lottery.winner_count,
      prize: { kind: lottery.prize_kind, name: lottery.prize_name },
      entrant_count: lottery.entrant_count, winners: [],
      verify_url: "/api/v1/public/lotteries/" + lottery.id + "/draw",
    };
  }

  async function showDetail(id) {
    var lottery = await api.call("GET", "/api/v1/lotteries/" + id);
    $("lottery-detail").hidden = false;
    $("lottery-detail-seed").textContent = lottery.seed
      ? format(t.seed, { seed: lottery.seed, hash: lottery.entrants_hash })
      : format(t.commitment, { hash: lottery.seed_hash });
    var rows = $("lottery-detail-rows");
    rows.textContent = "";
    lottery.entries.forEach(function (entry) {
      var row = document.createElement("tr");
      [entry.rank || "", entry.name, entry.ticket,
        entry.rank ? (t.prize_status[entry.prize_status] || entry.prize_status || "") + (entry.address ? " · " + entry.address : "") : (entry.position === null ? t.not_entered : "")]
        .forEach(function (value) {
          var cell = document.createElement("td");
          cell.textContent = String(value);
          row.appendChild(cell);
        });
      var action = document.createElement("td");
      if (entry.prize_status === "to_ship") {
        var ship = document.createElement("button");
        ship.type = "button";
        ship.className = "button small";
        ship.textContent = t.shipped;
        ship.addEventListener("click", async function () {
          var note = window.prompt(t.ship_note) || "";
          await api.call("POST", "/api/v1/lotteries/" + id + "/entries/" + entry.id + "/shipped", { note: note });
          showDetail(id);
        });
        action.appendChild(ship);
      }
      row.appendChild(action);
      rows.appendChild(row);
    });
  }

  function wire() {
    var form = $("lottery-form");
    $("lottery-prize-kind").addEventListener("change", function (event) { toggle("data-prize", event.target.value); });
    $("lottery-condition-kind").addEventListener("change", function (event) { toggle("data-condition", event.target.value); });
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      var error = $("lottery-error");
      error.hidden = true;
      try {
        var lottery = await api.call("POST", "/api/v1/live/" + liveId + "/lotteries", formBody(form));
        api.toast(t.started);
        showCurrent(toCard(lottery));
        loadHistory();
      } catch (failure) {
        error.textContent = failure.message;
        error.hidden = false;
      }
    });
    $("lottery-close").addEventListener("click", async function () {
      if (current) await api.call("POST", "/api/v1/lotteries/" + current.id + "/close");
    });
    $("lottery-cancel").addEventListener("click", async function () {
      if (current && window.confirm(t.confirm_cancel)) {
        await api.call("POST", "/api/v1/lotteries/" + current.id + "/cancel");
      }
    });
    fillSelect($("lottery-coupons"), "/api/v1/coupons?status=active&per_page=100", function (c) { return c.title; }, t.no_coupons);
    fillSelect($("lottery-communities"), "/api/v1/communities", function (c) { return c.name; }, t.no_communities);
    document.addEventListener("liveloop:room-message", function (event) {
      var msg = event.detail || {};
      if (msg.type === "lottery") {
        showCurrent(msg.card);
        if (msg.card && msg.card.state !== "running") loadHistory();
      } else if (msg.type === "snapshot") {
        var cards = (msg.state || {}).promotions || {};
        if (cards.lottery) showCurrent(cards.lottery);
      }
    });
    setInterval(tick, 1000);
    loadHistory().catch(function () {});
  }

  wire();
})();
