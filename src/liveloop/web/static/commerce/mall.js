/* The mall page: Buy buttons open the checkout drawer. "My orders": the buyer's orders, read with
 * the customer token this phone saved at checkout; unpaid ones can be paid or cancelled. Without
 * that token (another phone, cleared storage) the buyer logs in with phone + texted code. */
(function () {
  "use strict";

  var shopId = document.body.getAttribute("data-shop");
  var TOKEN_KEY = "liveloop.buyer_token." + shopId;

  document.querySelectorAll(".llm-buy").forEach(function (button) {
    button.addEventListener("click", function () {
      document.dispatchEvent(new CustomEvent("liveloop:buy", {
        detail: { product_id: parseInt(button.getAttribute("data-product"), 10), sku_id: null, live_session_id: null },
      }));
    });
  });

  var list = document.getElementById("llm-my-orders");
  if (!list) return;
  var config = JSON.parse(document.getElementById("llm-config").textContent);
  var token = null;
  try { token = window.localStorage.getItem(TOKEN_KEY); } catch (e) { token = null; }

  function money(fen) {
    return "¥" + Math.floor(fen / 100) + "." + String(fen % 100).padStart(2, "0");
  }

  async function api(method, path, body, headers) {
    var response = await fetch("/api/v1/public" + path, {
      method: method,
      headers: Object.assign({ Authorization: "Bearer " + token, "Content-Type": "application/json" }, headers || {}),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    var data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) throw new Error((data && data.message) || config.failed);
    return data;
  }

  function render(orders) {
    list.textContent = "";
    document.getElementById("llm-no-orders").hidden = orders.length > 0;
    var template = document.getElementById("llm-order-template");
    orders.forEach(function (order) {
      var node = template.content.firstElementChild.cloneNode(true);
      node.setAttribute("data-order", order.id);
      node.querySelector(".llm-number").textContent = order.number;
      var status = node.querySelector(".llm-status");
      status.textContent = config.statuses[order.status] || order.status;
      status.setAttribute("data-status", order.status);
      var lines = node.querySelector(".llm-lines");
      order.lines.forEach(function (line) {
        var item = document.createElement("li");
        item.textContent = line.product_name + (line.sku_name ? " · " + line.sku_name : "") + " × " + line.quantity;
        lines.appendChild(item);
      });
      node.querySelector(".llm-total").textContent = money(order.total_fen);
      var pending = order.status === "pending_payment";
      var pay = node.querySelector(".llm-pay");
      var cancel = node.querySelector(".llm-cancel");
      var receive = node.querySelector(".llm-receive");
      pay.hidden = cancel.hidden = !pending;
      receive.hidden = order.status !== "shipped";
      receive.addEventListener("click", async function () {
        try { await api("POST", "/orders/" + order.id + "/complete"); load(); }
        catch (error) { window.alert(error.message); }
      });
      pay.addEventListener("click", async function () {
        try {
          var payment = await api("POST", "/orders/" + order.id + "/payments",
            { provider: "demo", return_url: window.location.pathname }, { "Idempotency-Key": "pay-" + order.id });
          window.location.href = (payment.prepay || {}).pay_url;
        } catch (error) { window.alert(error.message); }
      });
      cancel.addEventListener("click", async function () {
        try { await api("POST", "/orders/" + order.id + "/cancel", {}); load(); }
        catch (error) { window.alert(error.message); }
      });
      list.appendChild(node);
    });
  }

  var login = document.getElementById("llm-login");
  var loginCode = window.LiveLoopPhoneCode.bind(
    document.getElementById("llm-login-code"), function () { return config.guest_token; });

  function showLogin(needed) {
    login.hidden = !needed;
    loginCode.show(needed);
    if (needed) document.getElementById("llm-no-orders").hidden = true;
  }

  login.addEventListener("submit", async function (event) {
    event.preventDefault();
    var error = document.getElementById("llm-login-error");
    error.textContent = "";
    if (!login.reportValidity()) return;
    try {
      var response = await fetch("/api/v1/public/phone-login", {
        method: "POST",
        headers: { Authorization: "Bearer " + config.guest_token, "Content-Type": "application/json" },
        body: JSON.stringify({ phone: login.elements.phone.value.trim(), code: loginCode.code() }),
      });
      var data = null;
      try { data = await response.json(); } catch (e) { data = null; }
      if (!response.ok) { error.textContent = (data && data.message) || config.failed; return; }
      token = data.viewer_token;
      try { window.localStorage.setItem(TOKEN_KEY, token); } catch (e) { /* private mode */ }
      loginCode.reset();
      load();
    } catch (e) {
      error.textContent = config.failed;
    }
  });

  async function load() {
    if (!token) { render([]); showLogin(true); return; }
    try {
      var page = await api("GET", "/orders?per_page=50");
      showLogin(false);
      render(page.items);
    } catch (error) {
      render([]);
      showLogin(true); // the saved token ran out or was not a customer's
    }
  }
  load();
})();
