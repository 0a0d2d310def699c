/* LiveLoop live-room promotions: the coupon the anchor pushed (claim it) and the flash sale
 * (countdown, live remaining, grab it → reservation and order → the demo pay page).
 *
 * Follows the room through the DOM event `liveloop:room-message` (snapshot, coupon_push,
 * flash_sale, flash_stock, promotion_withdraw) and acts with the page's viewer token (window.LiveLoopViewer.token).
 * Whatever a person wrote is put on the page with textContent, never innerHTML.
 */
(function () {
  "use strict";

  var root = document.getElementById("llp");
  if (!root) return;
  var t = JSON.parse(document.getElementById("llp-i18n").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var coupon = null;
  var sale = null;
  var buyKey = null;
  var timer = null;

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
  function token() { return (window.LiveLoopViewer && window.LiveLoopViewer.token) || ""; }
  function note(id, text) { var el = $(id); el.textContent = text || ""; el.hidden = !text; }

  async function api(method, url, body, headers) {
    var response = await fetch("/api/v1/public" + url, {
      method: method,
      headers: Object.assign({ "Content-Type": "application/json", Accept: "application/json",
        Authorization: "Bearer " + token() }, headers || {}),
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

  // ---- coupon ------------------------------------------------------------------------------

  function showCoupon(data) {
    coupon = data;
    $("llp-coupon-title").textContent = data.title;
    $("llp-coupon-value").textContent = data.value_text;
    $("llp-coupon-left").textContent = fill(t.left, { n: data.remaining });
    $("llp-claim").disabled = data.remaining <= 0;
    note("llp-coupon-note", "");
    $("llp-coupon").hidden = false;
  }

  async function claim() {
    if (!coupon) return;
    $("llp-claim").disabled = true;
    try {
      await api("POST", "/coupons/" + coupon.id + "/claim");
      note("llp-coupon-note", t.claimed);
    } catch (error) {
      if (error.code === "customer_required" && coupon.code) {
        note("llp-coupon-note", t.need_phone);
        window.open("/coupon/" + encodeURIComponent(coupon.code), "_blank", "noopener");
      } else {
        note("llp-coupon-note", error.message);
      }
      $("llp-claim").disabled = false;
    }
  }

  // ---- flash sale --------------------------------------------------------------------------

  function clock(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return (h ? h + ":" : "") + String(m).padStart(2, "0") + ":" + String(s % 60).padStart(2, "0");
  }

  function tick() {
    if (!sale) return;
    var now = Date.now(), starts = Date.parse(sale.starts_at), ends = Date.parse(sale.ends_at);
    var text, open = false;
    if (sale.state === "stopped" || now >= ends) text = t.ended;
    else if (now < starts) text = fill(t.starts_in, { time: clock(starts - now) });
    else { text = fill(t.ends_in, { time: clock(ends - now) }); open = true; }
    $("llp-flash-countdown").textContent = text;
    $("llp-buy").disabled = !open || sale.remaining <= 0;
    $("llp-buy").textContent = sale.remaining <= 0 ? t.sold_out : $("llp-buy").dataset.label;
  }

  function showFlash(data) {
    sale = data;
    buyKey = uuid();
    $("llp-flash-title").textContent = data.title;
    $("llp-flash-price").textContent = money(data.price_fen);
    $("llp-flash-original").textContent = money(data.original_price_fen);
    setRemaining(data.remaining);
    note("llp-flash-note", "");
    $("llp-flash").hidden = false;
    clearInterval(timer);
    timer = setInterval(tick, 500);
    tick();
  }

  function setRemaining(n) {
    if (!sale) return;
    sale.remaining = n;
    $("llp-flash-left").textContent = n > 0 ? fill(t.left, { n: n }) : t.sold_out;
    tick();
  }

  function addressFromForm() {
    var form = $("llp-address");
    if (form.hidden) return null;
    if (!form.reportValidity()) return undefined;
    var data = {};
    new FormData(form).forEach(function (value, key) { data[key] = String(value).trim(); });
    return data;
  }

  async function chooseAddress() {
    var typed = addressFromForm();
    if (typed === undefined) return undefined;
    if (typed) return { address: typed };
    var guest = false;
    try {
      var saved = await api("GET", "/addresses");
      if (saved.length) {
        var preferred = saved.filter(function (a) { return a.is_default; })[0] || saved[0];
        return { address_id: preferred.id };
      }
    } catch (error) { guest = true; /* a guest has none */ }
    phoneCode.show(guest); // a guest proves the phone with a texted code
    $("llp-address").hidden = false;
    note("llp-flash-note", t.address_needed);
    return undefined;
  }

  async function buy() {
    if (!sale) return;
    $("llp-buy").disabled = true;
    try {
      var where = await chooseAddress();
      if (where === undefined) { $("llp-buy").disabled = false; return; }
      var placed = await api("POST", "/flash-sales/" + sale.id + "/buy",
        Object.assign({ quantity: 1 }, where), { "Idempotency-Key": buyKey });
      if (placed.viewer_token) phoneCode.show(false);
      if (placed.viewer_token && window.LiveLoopViewer && window.LiveLoopViewer.setToken) {
        window.LiveLoopViewer.setToken(placed.viewer_token);
      }
      note("llp-flash-note", t.reserved);
      var back = window.location.pathname + window.location.search + "#ll-order-" + placed.order.id;
      var payment = await api("POST", "/orders/" + placed.order.id + "/payments",
        { provider: "demo", return_url: back }, { "Idempotency-Key": "pay-" + placed.order.id });
      var prepay = payment.prepay || {};
      if (prepay.pay_url || prepay.h5_url) window.location.href = prepay.pay_url || prepay.h5_url;
    } catch (error) {
      note("llp-flash-note", error.message);
      if (error.code === "sold_out") setRemaining(0);
      $("llp-buy").disabled = false;
    }
  }

  // ---- wiring ------------------------------------------------------------------------------

  var phoneCode = window.LiveLoopPhoneCode.bind($("llp-phone-code"), token);
  $("llp-buy").dataset.label = $("llp-buy").textContent;
  $("llp-claim").addEventListener("click", claim);
  $("llp-buy").addEventListener("click", buy);
  root.querySelectorAll("[data-llp-close]").forEach(function (button) {
    button.addEventListener("click", function () { $(button.dataset.llpClose).hidden = true; });
  });
  function hideCard(kind) {
    if (kind === "coupon") { coupon = null; $("llp-coupon").hidden = true; }
    if (kind === "flash_sale") { sale = null; clearInterval(timer); $("llp-flash").hidden = true; }
  }

  // A joining viewer gets the cards on show in the snapshot (state.promotions).
  function applySnapshot(promotions) {
    if (promotions.coupon) showCoupon(promotions.coupon);
    else hideCard("coupon");
    if (promotions.flash_sale) showFlash(promotions.flash_sale);
    else hideCard("flash_sale");
  }

  document.addEventListener("liveloop:room-message", function (event) {
    var msg = event.detail || {};
    if (msg.type === "snapshot") applySnapshot((msg.state || {}).promotions || {});
    else if (msg.type === "promotion_withdraw") {
      var current = msg.kind === "coupon" ? coupon : msg.kind === "flash_sale" ? sale : null;
      if (current && (msg.id == null || msg.id === current.id)) hideCard(msg.kind);
    }
    else if (msg.type === "coupon_push" && msg.coupon) showCoupon(msg.coupon);
    else if (msg.type === "flash_sale" && msg.flash_sale) showFlash(msg.flash_sale);
    else if (msg.type === "flash_stock" && sale && msg.flash_sale_id === sale.id) setRemaining(msg.remaining);
  });
})();
