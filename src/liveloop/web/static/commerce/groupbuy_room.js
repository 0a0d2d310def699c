/* LiveLoop live-room group buy (拼团): the card the anchor pushed, its open groups with a
 * countdown, "start a group" / "join", then the buyer's own group: its share link and progress.
 *
 * Follows the room through the DOM event `liveloop:room-message` (snapshot, group_buy_push,
 * group_buy, promotion_withdraw) and acts with the page's viewer token
 * (window.LiveLoopViewer.token). A customer with a saved address buys here; a guest (or a
 * customer without an address) goes to the group pages, which ask for the phone and address.
 * Whatever a person wrote is put on the page with textContent, never innerHTML.
 */
(function () {
  "use strict";

  var root = document.getElementById("llgb");
  if (!root) return;
  var t = JSON.parse(document.getElementById("llgb-i18n").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var card = null;
  var mine = null; // {code, campaign_id}
  var keys = {};
  var closed = false;

  function money(fen) {
    return "¥" + Math.floor(fen / 100) + "." + String(fen % 100).padStart(2, "0");
  }
  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_, key) { return values[key]; });
  }
  function uuid() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    return "k" + Date.now().toString(36) + Math.random().toString(36).slice(2);
  }
  function viewer() { return window.LiveLoopViewer || {}; }
  function token() { return viewer().token || ""; }
  function note(text) { var el = $("llgb-note"); el.textContent = text || ""; el.hidden = !text; }
  function mineKey() { return "liveloop.groupbuy.mine." + (viewer().liveSessionId || ""); }
  function store(value) {
    try {
      if (value) window.localStorage.setItem(mineKey(), JSON.stringify(value));
      else window.localStorage.removeItem(mineKey());
    } catch (error) { /* private mode: the panel lasts until a reload */ }
  }
  function stored() {
    try { return JSON.parse(window.localStorage.getItem(mineKey()) || "null"); } catch (error) { return null; }
  }

  async function api(method, url, body, headers) {
    var response = await fetch("/api/v1/public" + url, {
      method: method,
      headers: Object.assign({ "Content-Type": "application/json", Accept: "application/json",
        Authorization: "Bearer " + token() }, headers || {}),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    var data = await response.json().catch(function () { return {}; });
    if (!response.ok) {
      var error = new Error(data.message || t.failed_try);
      error.code = data.code;
      throw error;
    }
    return data;
  }

  // ---- the card ----------------------------------------------------------------------------

  function clock(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return (h ? h + ":" : "") + String(m).padStart(2, "0") + ":" + String(s % 60).padStart(2, "0");
  }

  function show(data) {
    card = data;
    card.groups = card.groups || [];
    $("llgb-title").textContent = data.title;
    $("llgb-product").textContent = data.product_name + (data.sku_name ? " · " + data.sku_name : "");
    $("llgb-size").textContent = fill(t.size, { n: data.group_size });
    $("llgb-group-price").textContent = money(data.group_price_fen);
    $("llgb-single-price").textContent = data.single_price_fen == null ? "" : money(data.single_price_fen);
    $("llgb-start").disabled = false;
    renderGroups();
    if (!closed) root.hidden = false;
    $("llgb-chip").hidden = !closed;
  }

  function hide() {
    card = null;
    root.hidden = true;
    $("llgb-chip").hidden = true;
  }

  function renderGroups() {
    var list = $("llgb-groups");
    list.textContent = "";
    if (!card) return;
    var now = Date.now();
    card.groups.forEach(function (group) {
      if (Date.parse(group.expires_at) <= now) return;
      if (mine && mine.code === group.code) return; // one's own group shows below, with its link
      var item = $("llgb-group").content.firstElementChild.cloneNode(true);
      item.dataset.code = group.code;
      item.dataset.expires = group.expires_at;
      item.querySelector(".llgb-need").textContent = fill(t.need, { n: group.group_size - group.seats_taken });
      item.querySelector(".llgb-join").addEventListener("click", function () { join(group.code); });
      list.appendChild(item);
    });
    tick();
  }

  function tick() {
    var now = Date.now();
    $("llgb-groups").querySelectorAll(".llgb-group").forEach(function (item) {
      var left = Date.parse(item.dataset.expires) - now;
      item.querySelector(".llgb-clock").textContent = left > 0 ? clock(left) : t.ended;
      item.querySelector(".llgb-join").disabled = left <= 0;
    });
  }

  function applyGroup(group) {
    if (mine && group.code === mine.code) showProgress(group);
    if (!card || group.campaign_id !== card.id) return;
    card.groups = card.groups.filter(function (g) { return g.code !== group.code; });
    if (group.status === "open" && group.seats_taken < group.group_size) card.groups.unshift(group);
    renderGroups();
  }

  // ---- the buyer's own group -----------------------------------------------------------------

  function showMine(code) {
    $("llgb-link").value = window.location.origin + "/group/" + code;
    $("llgb-mine").hidden = false;
    renderGroups();
  }

  function showProgress(group) {
    var paid = group.paid !== undefined ? group.paid : group.paid_count;
    var text = fill(t.progress, { taken: group.seats_taken, size: group.group_size, paid: paid || 0 });
    if (group.status === "confirmed") text = t.confirmed;
    else if (group.status === "failed") text = t.failed;
    $("llgb-progress").textContent = text;
    $("llgb-mine").dataset.status = group.status;
  }

  async function restoreMine() {
    var saved = stored();
    if (!saved || !saved.code) return;
    mine = saved;
    showMine(saved.code);
    try {
      var view = await api("GET", "/group-buys/groups/" + encodeURIComponent(saved.code));
      showProgress(view);
    } catch (error) {
      mine = null;
      store(null);
      $("llgb-mine").hidden = true;
    }
  }

  async function copyLink() {
    var input = $("llgb-link");
    try {
      await navigator.clipboard.writeText(input.value);
    } catch (error) {
      input.select();
      document.execCommand("copy");
    }
    note(t.copied);
  }

  // ---- start and join ------------------------------------------------------------------------

  async function savedAddress() {
    var me = await api("GET", "/me");
    if (me.customer_id == null) return null;
    var saved = await api("GET", "/addresses");
    if (!saved.length) return null;
    var preferred = saved.filter(function (a) { return a.is_default; })[0] || saved[0];
    return preferred.id;
  }

  function elsewhere(code) {
    // The group pages ask a guest for the phone (and its code) and the address.
    window.location.href = code ? "/group/" + encodeURIComponent(code)
      : "/group-buy/" + card.id + "?room=" + encodeURIComponent(viewer().code || "");
  }

  async function buy(code) {
    if (!card) return;
    var buttons = root.querySelectorAll("button.llgb-button, button.llgb-join");
    buttons.forEach(function (b) { b.disabled = true; });
    note("");
    try {
      var addressId = await savedAddress();
      if (addressId == null) { elsewhere(code); return; }
      var what = code || "new-" + card.id;
      keys[what] = keys[what] || uuid();
      var url = code ? "/group-buys/groups/" + encodeURIComponent(code) + "/join" : "/group-buys/" + card.id + "/groups";
      var placed = await api("POST", url, { quantity: 1, address_id: addressId }, { "Idempotency-Key": keys[what] });
      if (placed.viewer_token && viewer().setToken) viewer().setToken(placed.viewer_token);
      mine = { code: placed.group.code, campaign_id: card.id };
      store(mine);
      showMine(mine.code);
      showProgress(placed.group);
      note(t.paying);
      var back = window.location.pathname + window.location.search + "#ll-group-" + mine.code;
      var payment = await api("POST", "/orders/" + placed.order.id + "/payments",
        { provider: "demo", return_url: back }, { "Idempotency-Key": "pay-" + placed.order.id });
      var prepay = payment.prepay || {};
      if (prepay.pay_url || prepay.h5_url) window.location.href = prepay.pay_url || prepay.h5_url;
    } catch (error) {
      note(error.message);
    } finally {
      buttons.forEach(function (b) { b.disabled = false; });
      tick();
    }
  }

  function join(code) { buy(code); }

  // ---- wiring ------------------------------------------------------------------------------

  $("llgb-start").addEventListener("click", function () { buy(null); });
  $("llgb-copy").addEventListener("click", copyLink);
  $("llgb-x").addEventListener("click", function () { closed = true; root.hidden = true; $("llgb-chip").hidden = false; });
  $("llgb-chip").addEventListener("click", function () { closed = false; root.hidden = false; $("llgb-chip").hidden = true; });
  setInterval(tick, 1000);
  document.addEventListener("liveloop:token", restoreMine, { once: true });
  document.addEventListener("liveloop:room-message", function (event) {
    var msg = event.detail || {};
    if (msg.type === "snapshot") {
      var promotions = (msg.state || {}).promotions || {};
      if (promotions.group_buy) show(promotions.group_buy);
      else if (card) hide();
    } else if (msg.type === "group_buy_push" && msg.group_buy) {
      closed = false;
      show(msg.group_buy);
    } else if (msg.type === "group_buy" && msg.group) {
      applyGroup(msg.group);
    } else if (msg.type === "promotion_withdraw" && msg.kind === "group_buy" && card && msg.id === card.id) {
      hide();
    }
  });
})();
