/* LiveLoop live room: the viewer's tier and points, and the daily check-in.
 *
 * Follows the page's viewer token (the `liveloop:token` DOM event, and a swap by commerce), asks /api/v1/public/points/me with the
 * page's viewer token (window.LiveLoopViewer.token). A guest token is refused (401): the
 * badge stays hidden. Text is put on the page with textContent, never innerHTML.
 */
(function () {
  "use strict";

  var root = document.getElementById("llpt");
  if (!root) return;
  var t = JSON.parse(document.getElementById("llpt-i18n").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var busy = false;

  function token() { return (window.LiveLoopViewer && window.LiveLoopViewer.token) || ""; }
  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_, key) { return values[key]; });
  }
  function note(text) { var el = $("llpt-note"); el.textContent = text || ""; el.hidden = !text; }

  async function api(method, url) {
    var response = await fetch("/api/v1/public/points" + url, {
      method: method,
      headers: { Accept: "application/json", Authorization: "Bearer " + token() },
    });
    var data = await response.json().catch(function () { return {}; });
    return { ok: response.ok, status: response.status, data: data };
  }

  function show(me) {
    root.hidden = false;
    $("llpt-tier").textContent = me.tier ? me.tier.name : t.member;
    $("llpt-balance").textContent = String(me.balance);
    $("llpt-check").hidden = !me.check_in_enabled || me.checked_in_today;
    var next = $("llpt-next");
    if (me.next_tier && me.next_tier_min_points !== null) {
      var missing = Math.max(0, me.next_tier_min_points - me.lifetime_earned);
      next.textContent = fill(t.next, { n: missing, tier: me.next_tier.name });
      next.hidden = false;
    } else {
      next.hidden = true;
    }
    var list = $("llpt-entries");
    list.textContent = "";
    (me.entries || []).forEach(function (entry) {
      var item = document.createElement("li");
      var what = document.createElement("span");
      what.textContent = t.reasons[entry.reason] || entry.reason;
      var delta = document.createElement("span");
      delta.textContent = (entry.delta > 0 ? "+" : "") + entry.delta;
      item.appendChild(what);
      item.appendChild(delta);
      list.appendChild(item);
    });
  }

  async function refresh() {
    if (!token()) return;
    var answer = await api("GET", "/me");
    if (answer.ok) show(answer.data);
    else root.hidden = true;
  }

  async function checkIn() {
    if (busy) return;
    busy = true;
    try {
      var answer = await api("POST", "/check-in");
      if (answer.ok) note(fill(t.earned, { n: answer.data.delta }));
      else note(answer.data.code === "already_checked_in" ? t.checked_in : answer.data.message);
      await refresh();
    } finally {
      busy = false;
    }
  }

  $("llpt-check").addEventListener("click", checkIn);
  $("llpt-pill").addEventListener("click", function () {
    var panel = $("llpt-panel");
    panel.hidden = !panel.hidden;
    $("llpt-pill").setAttribute("aria-expanded", String(!panel.hidden));
  });
  // The token changes when a guest becomes a customer (commerce swaps it after an order).
  var seen = "";
  function watchToken() {
    if (token() && token() !== seen) { seen = token(); refresh(); }
  }
  document.addEventListener("liveloop:token", watchToken);
  setInterval(watchToken, 2000);
  setInterval(refresh, 60000);
  watchToken();
})();
