/* Follow-for-welfare section of the anchor console (live/tools/_welfare_console.html).
 *
 * Starts and stops an offer through the welfare API, shows the running offer's conversion
 * (read again every few seconds while it runs, and at each `welfare` room message, which comes
 * with every join), and lists the session's offers with the customers who tapped.
 * Everything a person wrote is shown with textContent.
 */
(function () {
  "use strict";

  var panel = document.getElementById("welfare-panel");
  if (!panel || !window.LiveLoopConsole) return;
  var api = window.LiveLoopConsole;
  var t = JSON.parse(document.getElementById("welfare-i18n").textContent);
  var liveId = panel.dataset.liveSessionId;
  var $ = function (id) { return document.getElementById(id); };
  var current = null; // the running offer (OfferDetailOut)

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, name) {
      return values[name] === undefined ? "" : String(values[name]);
    });
  }

  function showFigures(figures) {
    panel.querySelectorAll("[data-figure]").forEach(function (cell) {
      var name = cell.dataset.figure;
      var value = figures[name] || 0;
      cell.textContent = name === "conversion" ? (value * 100).toFixed(1) + "%" : String(value);
    });
  }

  function showCurrent(offer) {
    current = offer && offer.status === "running" ? offer : null;
    var box = $("welfare-current");
    box.hidden = !current;
    $("welfare-form").hidden = !!current;
    if (!current) return;
    $("welfare-current-text").textContent = current.popup_text;
    var meta = format(t.meta, { community: current.community_name || "", reward: current.reward_name });
    if (current.ends_at) meta += " · " + format(t.until, { time: new Date(current.ends_at).toLocaleTimeString() });
    $("welfare-current-meta").textContent = meta;
    showFigures(current.figures || {});
  }

  async function refreshCurrent() {
    if (!current) return;
    try {
      showCurrent(await api.call("GET", "/api/v1/welfare-offers/" + current.id));
    } catch (error) { /* toasted */ }
  }

  async function loadHistory() {
    var offers = await api.call("GET", "/api/v1/live/" + liveId + "/welfare-offers");
    var list = $("welfare-history-list");
    list.textContent = "";
    offers.forEach(function (offer) {
      var item = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "link";
      button.textContent = format(t.summary, {
        text: offer.popup_text, status: t.status[offer.status] || offer.status,
        rewarded: offer.figures.rewarded, shown: offer.figures.shown,
      });
      button.addEventListener("click", function () { showDetail(offer.id); });
      item.appendChild(button);
      list.appendChild(item);
    });
    var running = offers.filter(function (offer) { return offer.status === "running"; })[0];
    if (running) {
      current = running;
      await refreshCurrent();
    } else {
      showCurrent(null);
    }
  }

  async function showDetail(id) {
    var offer = await api.call("GET", "/api/v1/welfare-offers/" + id);
    $("welfare-detail").hidden = false;
    var rows = $("welfare-detail-rows");
    rows.textContent = "";
    if (!offer.claims.length) {
      var empty = document.createElement("tr");
      var cell = document.createElement("td");
      cell.colSpan = 4;
      cell.textContent = t.nobody;
      empty.appendChild(cell);
      rows.appendChild(empty);
    }
    offer.claims.forEach(function (claim) {
      var row = document.createElement("tr");
      var outcome = claim.outcome ? (t.outcome[claim.outcome] || claim.outcome) : t.outcome.pending;
      if (claim.reward_note) outcome += " · " + claim.reward_note;
      [claim.name, time(claim.tapped_at), time(claim.joined_at), outcome].forEach(function (value) {
        var td = document.createElement("td");
        td.textContent = value;
        row.appendChild(td);
      });
      rows.appendChild(row);
    });
  }

  function time(value) { return value ? new Date(value).toLocaleTimeString() : "—"; }

  function toggleReward(kind) {
    panel.querySelectorAll("[data-reward]").forEach(function (element) {
      element.hidden = element.dataset.reward !== kind;
    });
  }

  function formBody(form) {
    var data = new FormData(form);
    var kind = data.get("reward_kind");
    var body = {
      community_id: Number(data.get("community_id")) || null,
      popup_text: data.get("popup_text"),
      reward_kind: kind,
      new_members_only: !!data.get("new_members_only"),
      confirm_by: data.get("confirm_by"),
      duration_seconds: Number(data.get("duration_seconds")) || null,
    };
    if (kind === "coupon") body.reward_coupon_id = Number(data.get("reward_coupon_id")) || null;
    if (kind === "points") body.reward_points = Number(data.get("reward_points"));
    return body;
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

  function wire() {
    var form = $("welfare-form");
    $("welfare-reward-kind").addEventListener("change", function (event) { toggleReward(event.target.value); });
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      var error = $("welfare-error");
      error.hidden = true;
      try {
        var offer = await api.call("POST", "/api/v1/live/" + liveId + "/welfare-offers", formBody(form));
        api.toast(t.started);
        current = offer;
        await refreshCurrent();
        loadHistory();
      } catch (failure) {
        error.textContent = failure.message;
        error.hidden = false;
      }
    });
    $("welfare-stop").addEventListener("click", async function () {
      if (!current || !window.confirm(t.confirm_stop)) return;
      await api.call("POST", "/api/v1/welfare-offers/" + current.id + "/stop");
      api.toast(t.stopped);
      showCurrent(null);
      loadHistory();
    });
    fillSelect($("welfare-communities"), "/api/v1/communities", function (c) { return c.name; }, t.no_communities);
    fillSelect($("welfare-coupons"), "/api/v1/coupons?status=active&per_page=100", function (c) { return c.title; }, t.no_coupons);
    document.addEventListener("liveloop:room-message", function (event) {
      var msg = event.detail || {};
      if (msg.type !== "welfare") return;
      if (msg.card && current && msg.card.id === current.id) refreshCurrent();
      else loadHistory().catch(function () {});
    });
    setInterval(function () { if (current && !document.hidden) refreshCurrent(); }, 5000);
    loadHistory().catch(function () {});
  }

  wire();
})();
