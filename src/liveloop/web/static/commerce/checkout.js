/* LiveLoop checkout drawer: choose an option and quantity, an address, a coupon; see the price
 * from the quote API; place the order (Idempotency-Key, so a double tap makes one order); pay
 * through the payment API (the demo provider's hosted page) and come back.
 *
 * It opens on the DOM event `liveloop:buy` {product_id, sku_id, live_session_id}. The viewer
 * token comes from the live room (window.LiveLoopViewer.token) or from the page's config (mall).
 * A guest proves the phone of a new address with a texted code (phone_code.js); when the order
 * makes them a customer, the new token replaces the old one everywhere.
 * Whatever a person wrote is put on the page with textContent, never innerHTML.
 */
(function () {
  "use strict";

  var root = document.getElementById("llc");
  if (!root) return;
  var config = JSON.parse(document.getElementById("llc-config").textContent);
  var t = config.i18n;
  var $ = function (id) { return document.getElementById(id); };
  var TOKEN_KEY = "liveloop.buyer_token.";

  var state = {
    product: null,
    skuId: null,
    quantity: 1,
    addresses: [],
    couponId: null, // null: let the server suggest; "none": no coupon; a number: that one
    quote: null,
    order: null,
    idempotencyKey: null,
    quoteSeq: 0,
    busy: false,
    tokenOverride: null, // the customer token an order was paid with, when coming back
  };
  var ORDER_TOKEN_KEY = "liveloop.order_token.";
  var phoneCode = window.LiveLoopPhoneCode.bind($("llc-phone-code"), function () { return token(); });

  // ---- helpers ----------------------------------------------------------------------------

  function money(fen) {
    if (fen === null || fen === undefined) return "—";
    var sign = fen < 0 ? "-" : "";
    fen = Math.abs(fen);
    return sign + "¥" + Math.floor(fen / 100) + "." + String(fen % 100).padStart(2, "0");
  }
  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_, key) { return values[key]; });
  }
  function uuid() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    return "k" + Date.now().toString(36) + Math.random().toString(36).slice(2);
  }
  function storageGet(key) { try { return window.localStorage.getItem(key); } catch (e) { return null; } }
  function storageSet(key, value) { try { window.localStorage.setItem(key, value); } catch (e) { /* private mode */ } }

  function token() {
    if (state.tokenOverride) return state.tokenOverride;
    if (window.LiveLoopViewer && window.LiveLoopViewer.token) return window.LiveLoopViewer.token;
    if (config.shop_id) {
      var saved = storageGet(TOKEN_KEY + config.shop_id + ".mall");
      if (saved) return saved;
    }
    return config.token;
  }

  function rememberToken(newToken, shopId) {
    state.tokenOverride = newToken;
    if (window.LiveLoopViewer && window.LiveLoopViewer.setToken) window.LiveLoopViewer.setToken(newToken);
    var shop = shopId || config.shop_id;
    if (!shop) return;
    storageSet(TOKEN_KEY + shop, newToken);
    if (!(window.LiveLoopViewer && window.LiveLoopViewer.token)) storageSet(TOKEN_KEY + shop + ".mall", newToken);
    else config.token = newToken;
  }

  /** Drop a saved token that no longer works; true when there is another one to try. */
  function forgetToken(badToken) {
    var forgot = false;
    if (state.tokenOverride === badToken) { state.tokenOverride = null; forgot = true; }
    if (config.shop_id && storageGet(TOKEN_KEY + config.shop_id + ".mall") === badToken) {
      try { window.localStorage.removeItem(TOKEN_KEY + config.shop_id + ".mall"); } catch (e) { /* private mode */ }
      forgot = true;
    }
    return forgot && Boolean(token()) && token() !== badToken;
  }

  async function api(method, path, body, extraHeaders) {
    var headers = { "Accept": "application/json" };
    var current = token();
    if (current) headers.Authorization = "Bearer " + current;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    Object.assign(headers, extraHeaders || {});
    var response = await fetch("/api/v1/public" + path, {
      method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    var data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (response.status === 401 && data && (data.code === "token_expired" || data.code === "token_invalid")
        && forgetToken(current)) {
      return api(method, path, body, extraHeaders); // a saved token ran out: go on as a guest
    }
    if (!response.ok) {
      var error = new Error((data && data.message) || t.failed);
      error.status = response.status;
      error.data = data || {};
      throw error;
    }
    return data;
  }

  function showError(id, error) {
    var node = $(id);
    var text = error ? (error.message || t.failed) : "";
    if (error && error.data && error.data.errors && error.data.errors.length > 1) {
      text = error.data.errors.map(function (e) { return e.message; }).join("；");
    }
    node.textContent = text;
  }

  function step(name) {
    root.querySelectorAll(".llc-step").forEach(function (node) {
      node.hidden = node.getAttribute("data-step") !== name;
    });
  }

  function open() { root.hidden = false; document.body.classList.add("llc-open"); }
  function close() {
    root.hidden = true;
    document.body.classList.remove("llc-open");
    if (window.location.hash.indexOf("#ll-order-") === 0) {
      window.history.replaceState(null, "", window.location.pathname + window.location.search);
    }
  }

  function ordersUrl(shopId) { return "/mall/" + (shopId || config.shop_id || "") + "/orders"; }

  // ---- choosing ---------------------------------------------------------------------------

  function selectedSku() {
    if (!state.product) return null;
    return state.product.skus.find(function (s) { return s.id === state.skuId; }) || null;
  }

  function renderProduct() {
    var product = state.product;
    $("llc-title").textContent = product.name;
    var image = $("llc-image");
    if (product.image_url) { image.src = product.image_url; image.hidden = false; } else image.hidden = true;
    var skus = $("llc-skus");
    skus.textContent = "";
    product.skus.forEach(function (sku) {
      var chip = document.createElement("button");
      chip.type = "button";
      chip.className = "llc-chip" + (sku.id === state.skuId ? " selected" : "");
      chip.textContent = sku.name || product.name;
      chip.disabled = sku.stock <= 0;
      chip.setAttribute("data-sku", sku.id);
      chip.addEventListener("click", function () {
        state.skuId = sku.id;
        state.quantity = Math.min(state.quantity, Math.max(1, sku.stock));
        newAttempt();
        renderProduct();
        requote();
      });
      skus.appendChild(chip);
    });
    var sku = selectedSku();
    $("llc-price").textContent = sku ? money(sku.price_fen) : fill(t.from, { price: money(product.price_min_fen) });
    $("llc-stock").textContent = sku ? (sku.stock > 0 ? fill(t.stock_left, { stock: sku.stock }) : t.sold_out) : "";
    $("llc-quantity").value = state.quantity;
  }

  function setQuantity(value) {
    var sku = selectedSku();
    var most = Math.min(99, sku ? Math.max(1, sku.stock) : 99);
    var quantity = Math.max(1, Math.min(most, parseInt(value, 10) || 1));
    if (quantity !== state.quantity) { state.quantity = quantity; newAttempt(); requote(); }
    $("llc-quantity").value = state.quantity;
  }

  function newAttempt() { state.idempotencyKey = uuid(); }

  // ---- addresses --------------------------------------------------------------------------

  async function loadAddresses() {
    state.addresses = [];
    var guest = false;
    try {
      state.addresses = await api("GET", "/addresses");
    } catch (error) {
      if (error.status !== 401) throw error; // a guest: the form below is how they order
      guest = true;
    }
    phoneCode.show(guest); // a customer's new address needs no code
    var select = $("llc-address");
    select.textContent = "";
    state.addresses.forEach(function (address) {
      var option = document.createElement("option");
      option.value = address.id;
      option.textContent = address.recipient_name + " " + address.phone_masked + " · " +
        [address.region, address.city, address.district, address.detail].filter(Boolean).join(" ");
      select.appendChild(option);
    });
    var fresh = document.createElement("option");
    fresh.value = "new";
    fresh.textContent = t.new_address;
    select.appendChild(fresh);
    select.hidden = state.addresses.length === 0;
    select.value = state.addresses.length ? String(state.addresses[0].id) : "new";
    $("llc-address-form").hidden = select.value !== "new";
  }

  function addressChoice() {
    var select = $("llc-address");
    if (!select.hidden && select.value !== "new") return { address_id: parseInt(select.value, 10) };
    var form = $("llc-address-form");
    if (!form.reportValidity()) return null;
    var data = {};
    new FormData(form).forEach(function (value, key) { data[key] = String(value).trim(); });
    return { address: data };
  }

  // ---- quote ------------------------------------------------------------------------------

  function linesBody() { return [{ sku_id: state.skuId, quantity: state.quantity }]; }

  async function requote() {
    if (!state.skuId) return;
    var seq = ++state.quoteSeq;
    var body = { lines: linesBody() };
    if (state.couponId === "none") body.no_coupon = true;
    else if (state.couponId !== null) body.customer_coupon_id = state.couponId;
    showError("llc-error", null);
    try {
      var quote = await api("POST", "/checkout/quote", body);
      if (seq !== state.quoteSeq) return; // a later change already asked again
      state.quote = quote;
      renderQuote();
    } catch (error) {
      if (seq === state.quoteSeq) { state.quote = null; renderQuote(); showError("llc-error", error); }
    }
  }

  function renderQuote() {
    var quote = state.quote;
    $("llc-items").textContent = quote ? money(quote.items_fen) : "—";
    $("llc-discount").textContent = quote && quote.discount_fen ? money(-quote.discount_fen) : "—";
    $("llc-shipping").textContent = quote ? (quote.shipping_fen ? money(quote.shipping_fen) : t.free) : "—";
    $("llc-total").textContent = quote ? money(quote.total_fen) : "—";
    $("llc-place").disabled = !quote || state.busy;
    var block = $("llc-coupon-block");
    var select = $("llc-coupon");
    var coupons = quote ? quote.coupons || [] : [];
    block.hidden = coupons.length === 0;
    select.textContent = "";
    var none = document.createElement("option");
    none.value = "none";
    none.textContent = t.no_coupon;
    select.appendChild(none);
    coupons.forEach(function (coupon) {
      var option = document.createElement("option");
      option.value = coupon.customer_coupon_id;
      option.disabled = !coupon.applicable;
      option.textContent = coupon.title + (coupon.applicable
        ? " −" + money(coupon.discount_fen) + (coupon.free_shipping ? " · " + t.free : "")
        : " · " + t.not_applicable + ": " + (coupon.reason || ""));
      select.appendChild(option);
    });
    select.value = quote && quote.customer_coupon_id ? String(quote.customer_coupon_id) : "none";
    var note = $("llc-coupon-note");
    if (quote && quote.coupon_error) note.textContent = quote.coupon_error.message;
    else note.textContent = quote && quote.coupon_suggested ? t.best_coupon : "";
  }

  // ---- placing and paying -----------------------------------------------------------------

  async function placeOrder() {
    if (state.busy) return;
    if (!state.skuId) { showError("llc-error", new Error(t.choose_option)); return; }
    var where = addressChoice();
    if (!where) return;
    var body = Object.assign({ lines: linesBody(), expected_total_fen: state.quote ? state.quote.total_fen : null }, where);
    if (state.quote && state.quote.customer_coupon_id) body.customer_coupon_id = state.quote.customer_coupon_id;
    var promo = $("llc-promo").value.trim();
    if (promo) body.promo_code = promo;
    state.busy = true;
    $("llc-place").disabled = true;
    showError("llc-error", null);
    showError("llc-promo-error", null);
    try {
      var placed = await api("POST", "/orders", body, { "Idempotency-Key": state.idempotencyKey });
      if (placed.viewer_token) {
        phoneCode.show(false);
        var me = await meFor(placed.viewer_token);
        rememberToken(placed.viewer_token, me && me.shop_id);
      } else {
        var current = await meFor(token());
        if (current && current.customer_id) rememberToken(token(), current.shop_id);
      }
      state.order = placed.order;
      showPayStep();
    } catch (error) {
      // A promo code error belongs next to the field; the order was not placed, so a corrected
      // code is a new attempt.
      if (error.data && error.data.field === "promo_code") { showError("llc-promo-error", error); newAttempt(); }
      else showError("llc-error", error);
      // A refused code: the order was not placed, so the corrected one is a new attempt.
      if (error.data && /^phone_code_/.test(error.data.code || "")) newAttempt();
      if (error.data && error.data.code === "price_changed") { newAttempt(); requote(); }
    } finally {
      state.busy = false;
      $("llc-place").disabled = !state.quote;
    }
  }

  async function meFor(someToken) {
    try {
      var response = await fetch("/api/v1/public/me", { headers: { Authorization: "Bearer " + someToken } });
      if (response.ok) { var me = await response.json(); if (me.shop_id) config.shop_id = config.shop_id || me.shop_id; return me; }
    } catch (e) { /* offline: the order still exists */ }
    return null;
  }

  function showPayStep() {
    var order = state.order;
    $("llc-order-number").textContent = order.number;
    $("llc-pay-total").textContent = money(order.total_fen);
    $("llc-pay-before").textContent = order.expires_at
      ? fill(t.pay_before, { time: new Date(order.expires_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) })
      : "";
    $("llc-orders-link").href = ordersUrl();
    showError("llc-pay-error", null);
    step(order.status === "pending_payment" ? "pay" : "done");
    if (order.status !== "pending_payment") showDone(order);
  }

  async function pay() {
    if (state.busy || !state.order) return;
    state.busy = true;
    $("llc-pay").disabled = true;
    try {
      var back = window.location.pathname + window.location.search + "#ll-order-" + state.order.id;
      // Coming back, the room hands out a fresh guest token: keep the buyer's for this order.
      try { window.sessionStorage.setItem(ORDER_TOKEN_KEY + state.order.id, token()); } catch (e) { /* private mode */ }
      var payment = await api("POST", "/orders/" + state.order.id + "/payments",
        { provider: "demo", return_url: back }, { "Idempotency-Key": "pay-" + state.order.id });
      var prepay = payment.prepay || {};
      var url = prepay.pay_url || prepay.h5_url;
      if (!url) throw new Error(t.failed);
      window.location.href = url;
    } catch (error) {
      showError("llc-pay-error", error);
    } finally {
      state.busy = false;
      $("llc-pay").disabled = false;
    }
  }

  function showDone(order) {
    step("done");
    var paid = ["paid", "shipped", "completed"].indexOf(order.status) >= 0;
    $("llc-done-title").textContent = paid ? t.paid : order.status === "pending_payment" ? t.waiting : t.closed;
    $("llc-done-number").textContent = order.number + " · " + money(order.total_fen);
    $("llc-done-orders").href = ordersUrl();
  }

  // Back from the pay page: show how the order stands (the notification may still be on its way).
  async function resumeOrder(orderId) {
    var saved = null;
    try { saved = window.sessionStorage.getItem(ORDER_TOKEN_KEY + orderId); } catch (e) { saved = null; }
    if (saved) {
      state.tokenOverride = saved;
      if (window.LiveLoopViewer && window.LiveLoopViewer.setToken) window.LiveLoopViewer.setToken(saved);
    }
    open();
    for (var attempt = 0; attempt < 10; attempt++) {
      try {
        var order = await api("GET", "/orders/" + orderId);
        state.order = order;
        if (order.status === "pending_payment" && attempt < 9) {
          showDone(order);
          await new Promise(function (resolve) { setTimeout(resolve, 1000); });
          continue;
        }
        if (order.status === "pending_payment") showPayStep(); else showDone(order);
        return;
      } catch (error) {
        close();
        return;
      }
    }
  }

  // ---- opening ----------------------------------------------------------------------------

  async function openFor(detail) {
    state.product = null;
    state.skuId = null;
    state.quantity = 1;
    state.couponId = null;
    state.quote = null;
    newAttempt();
    step("choose");
    open();
    renderQuote();
    showError("llc-error", null);
    try {
      var results = await Promise.all([api("GET", "/products/" + detail.product_id), loadAddresses()]);
      state.product = results[0];
      var wanted = state.product.skus.find(function (s) { return s.id === detail.sku_id && s.stock > 0; });
      var first = state.product.skus.find(function (s) { return s.stock > 0; });
      state.skuId = (wanted || first || {}).id || null;
      renderProduct();
      await requote();
    } catch (error) {
      showError("llc-error", error);
    }
  }

  document.addEventListener("liveloop:buy", function (event) { openFor(event.detail || {}); });
  root.querySelectorAll("[data-llc-close]").forEach(function (node) { node.addEventListener("click", close); });
  document.addEventListener("keydown", function (event) { if (event.key === "Escape" && !root.hidden) close(); });
  $("llc-minus").addEventListener("click", function () { setQuantity(state.quantity - 1); });
  $("llc-plus").addEventListener("click", function () { setQuantity(state.quantity + 1); });
  $("llc-quantity").addEventListener("change", function (event) { setQuantity(event.target.value); });
  $("llc-address").addEventListener("change", function (event) {
    $("llc-address-form").hidden = event.target.value !== "new";
    newAttempt();
  });
  $("llc-coupon").addEventListener("change", function (event) {
    state.couponId = event.target.value === "none" ? "none" : parseInt(event.target.value, 10);
    newAttempt();
    requote();
  });
  $("llc-place").addEventListener("click", placeOrder);
  $("llc-pay").addEventListener("click", pay);

  window.LiveLoopCheckout = { open: openFor, resume: resumeOrder };

  var resumed = /^#ll-order-(\d+)$/.exec(window.location.hash);
  if (resumed) {
    // In the live room the token arrives a moment after load; wait for it (or give up).
    var tries = 0;
    (function waitForToken() {
      if (token() || tries++ > 50) { resumeOrder(parseInt(resumed[1], 10)); return; }
      setTimeout(waitForToken, 100);
    })();
  }
})();
