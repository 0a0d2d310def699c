/* The anchor console's red packet panel: budget and top-up, starting a red packet rain, the
 * running packet's progress (room `red_packet` messages, polled while it runs for the amount),
 * history with the grabs. Uses window.LiveLoopConsole.call (CSRF, toasts on error).
 */
(function () {
  "use strict";

  var root = document.getElementById("redpacket-console");
  if (!root) return;
  var t = JSON.parse(document.getElementById("llrpc-i18n").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var sessionId = root.dataset.liveSessionId;
  var current = null;
  var refreshTimer = null;

  function api() { return window.LiveLoopConsole; }
  function call(method, url, body) { return api().call(method, url, body); }
  function money(fen) {
    return "¥" + Math.floor(fen / 100) + "." + String(fen % 100).padStart(2, "0");
  }
  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_, key) { return values[key]; });
  }
  function fen(yuanText) { return Math.round(parseFloat(yuanText) * 100); }
  function uuid() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    return "k" + Date.now().toString(36) + Math.random().toString(36).slice(2);
  }
  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  async function loadBudget() {
    var budget = await call("GET", "/api/v1/red-packet-budget");
    $("llrpc-budget").textContent = money(budget.balance_fen);
  }

  async function loadHistory() {
    var listed = await call("GET", "/api/v1/live/" + sessionId + "/red-packets");
    var body = $("llrpc-history");
    body.textContent = "";
    listed.items.forEach(function (packet) {
      var row = document.createElement("tr");
      row.dataset.redPacketId = packet.id;
      cell(row, String(packet.id));
      cell(row, money(packet.total_fen) + " / " + packet.count);
      cell(row, packet.grabbed_count + " · " + money(packet.grabbed_fen));
      cell(row, packet.status === "active" ? "—" : money(packet.returned_fen));
      cell(row, t[packet.state] || packet.state);
      var button = document.createElement("button");
      button.type = "button";
      button.className = "button small";
      button.textContent = t.show;
      button.addEventListener("click", function () { showGrabs(packet.id); });
      cell(row, "").appendChild(button);
      body.appendChild(row);
    });
    var running = listed.items.find(function (p) { return p.status === "active"; });
    if (running) showCurrent({ id: running.id, state: running.state, count: running.count,
      grabbed_count: running.grabbed_count, grabbed_fen: running.grabbed_fen,
      total_fen: running.total_fen, ends_at: running.ends_at });
    else if (current && current.state !== "ended" && current.state !== "stopped") $("llrpc-current").hidden = true;
  }

  async function showGrabs(id) {
    var detail = await call("GET", "/api/v1/red-packets/" + id);
    $("llrpc-grabs-title").textContent = fill(t.grabs_of, { id: id });
    var list = $("llrpc-grabs-list");
    list.textContent = "";
    detail.grabs.forEach(function (grab) {
      var item = document.createElement("li");
      item.textContent = grab.customer_name + " · " + money(grab.amount_fen);
      list.appendChild(item);
    });
    if (!detail.grabs.length) {
      var none = document.createElement("li");
      none.textContent = t.no_grabs;
      list.appendChild(none);
    }
    $("llrpc-grabs").hidden = false;
  }

  function showCurrent(card) {
    current = Object.assign({}, current && current.id === card.id ? current : {}, card);
    $("llrpc-current").hidden = false;
    $("llrpc-current-title").textContent = fill(t.packet, { id: current.id });
    $("llrpc-current-state").textContent = t[current.state] || current.state;
    $("llrpc-progress").max = current.count;
    $("llrpc-progress").value = current.grabbed_count || 0;
    $("llrpc-progress-text").textContent = fill(t.progress, {
      n: current.grabbed_count || 0, count: current.count,
      amount: current.grabbed_fen === undefined ? "" : money(current.grabbed_fen),
    });
    var running = current.state === "open" || current.state === "scheduled";
    $("llrpc-stop").hidden = !running;
  }

  function refreshSoon() {
    // The room says how many were grabbed; the amounts and the budget come from the API.
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(function () {
      loadHistory().catch(function () {});
      loadBudget().catch(function () {});
    }, 1200);
  }

  function showKindFields() {
    var kind = $("llrpc-kind").value;
    root.querySelectorAll("[data-kind]").forEach(function (input) {
      input.hidden = input.dataset.kind !== kind;
      input.required = input.dataset.kind === kind;
    });
  }

  async function start(event) {
    event.preventDefault();
    var form = event.target;
    var kind = form.kind.value;
    var condition = { kind: kind };
    if (kind === "keyword") condition.keyword = form.keyword.value.trim();
    if (kind === "community") condition.community_id = parseInt(form.community_id.value, 10);
    if (kind === "watch_time") condition.min_watch_seconds = parseInt(form.min_watch_seconds.value, 10);
    var packet = await call("POST", "/api/v1/live/" + sessionId + "/red-packets", {
      total_fen: fen(form.total.value),
      count: parseInt(form.count.value, 10),
      split: form.split.value,
      duration_seconds: parseInt(form.duration.value, 10),
      starts_in_seconds: parseInt(form.delay.value || "0", 10),
      greeting: form.greeting.value.trim(),
      condition: condition,
    });
    api().toast(t.started);
    showCurrent(packet);
    await Promise.all([loadBudget(), loadHistory()]);
  }

  async function topUp(event) {
    event.preventDefault();
    var form = event.target;
    var key = form.dataset.key || (form.dataset.key = uuid());
    await fetchTopUp(form, key);
  }

  async function fetchTopUp(form, key) {
    var response = await fetch("/api/v1/red-packet-budget/top-ups", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json",
        "X-CSRF-Token": api().config.csrf, "Idempotency-Key": key },
      body: JSON.stringify({ amount_fen: fen(form.amount.value), note: "console" }),
    });
    var data = await response.json().catch(function () { return {}; });
    if (!response.ok) { api().toast(data.message || String(response.status)); return; }
    delete form.dataset.key;
    form.reset();
    $("llrpc-budget").textContent = money(data.balance_fen);
    api().toast(t.topped_up);
  }

  async function stop() {
    if (!current) return;
    var detail = await call("POST", "/api/v1/red-packets/" + current.id + "/stop");
    showCurrent(detail);
    await Promise.all([loadBudget(), loadHistory()]);
  }

  document.addEventListener("liveloop:room-message", function (event) {
    var msg = event.detail || {};
    var card = msg.type === "snapshot" ? ((msg.state || {}).promotions || {}).red_packet : msg.type === "red_packet" ? msg.card : null;
    if (!card) return;
    showCurrent(card);
    refreshSoon();
  });

  function wire() {
    $("llrpc-start").addEventListener("submit", function (event) { start(event).catch(function () {}); });
    $("llrpc-topup").addEventListener("submit", function (event) { topUp(event).catch(function () {}); });
    $("llrpc-stop").addEventListener("click", function () { stop().catch(function () {}); });
    $("llrpc-kind").addEventListener("change", showKindFields);
    showKindFields();
    var ready = function () {
      if (!api()) { setTimeout(ready, 100); return; }
      loadBudget().catch(function () {});
      loadHistory().catch(function () {});
    };
    ready();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
  else wire();
})();
