/* Customer service console page (service/inbox.html).
 *
 * The inbox (polled every 5 s), one thread (new messages polled every 3 s with ?after=, read
 * marks sent as they show) and the customer beside it, all through /api/v1/service. What a
 * person wrote is shown with textContent. The script library, once built, fills the reply
 * box through `liveloop:insert-text`.
 */
(function () {
  "use strict";

  var page = document.getElementById("svc-page");
  if (!page) return;
  var config = JSON.parse(document.getElementById("svc-config").textContent);
  var t = JSON.parse(document.getElementById("svc-i18n").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var status = "open";
  var current = null; // the open conversation's detail
  var lastId = 0; // newest message shown
  var busy = false;

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, name) {
      return values[name] === undefined ? "" : String(values[name]);
    });
  }

  async function call(method, url, body) {
    var response = await fetch(url, {
      method: method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": page.dataset.csrf },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    var data = null;
    try { data = await response.json(); } catch (error) { data = null; }
    if (!response.ok) throw new Error((data && data.message) || response.status + " " + response.statusText);
    return data;
  }

  function when(iso) {
    return iso ? new Date(iso).toLocaleString([], { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" }) : "";
  }

  function money(fen) { return "¥" + (fen / 100).toFixed(2); }

  async function loadInbox() {
    var query = "?status=" + status + (config.live_session_id ? "&live_session_id=" + config.live_session_id : "");
    var data;
    try { data = await call("GET", "/api/v1/service/conversations" + query); } catch (error) { return; }
    var list = $("svc-list");
    list.textContent = "";
    data.items.forEach(function (row) {
      var item = document.createElement("li");
      item.dataset.conversationId = row.id;
      if (current && current.id === row.id) item.className = "active";
      var button = document.createElement("button");
      button.type = "button";
      var name = document.createElement("span");
      name.className = "svc-name";
      name.textContent = row.customer_name;
      var preview = document.createElement("span");
      preview.className = "svc-preview";
      preview.textContent = row.last_preview;
      var meta = document.createElement("span");
      meta.className = "muted small";
      meta.textContent = when(row.last_message_at) + (row.live_session_title ? " · " + row.live_session_title : "");
      button.append(name, preview, meta);
      if (row.agent_unread) {
        var unread = document.createElement("span");
        unread.className = "svc-unread";
        unread.textContent = format(t.unread, { n: row.agent_unread });
        button.appendChild(unread);
      }
      button.addEventListener("click", function () { select(row.id); });
      item.appendChild(button);
      list.appendChild(item);
    });
    $("svc-list-empty").hidden = data.items.length > 0;
  }

  function addMessages(messages) {
    var box = $("svc-messages");
    var atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    messages.forEach(function (message) {
      if (message.id <= lastId) return;
      var item = document.createElement("li");
      item.className = message.sender;
      item.dataset.messageId = message.id;
      var meta = document.createElement("span");
      meta.className = "svc-meta";
      meta.textContent = (message.sender === "agent" ? (message.staff_name || t.agent) : t.you) + " · " + when(message.created_at);
      var text = document.createElement("span");
      text.className = "svc-text";
      text.textContent = message.text;
      item.append(meta, text);
      box.appendChild(item);
      lastId = message.id;
    });
    if (atBottom || messages.length) box.scrollTop = box.scrollHeight;
  }

  function showThread(detail) {
    current = detail;
    $("svc-pick").hidden = true;
    $("svc-thread").hidden = false;
    $("svc-thread-title").textContent = detail.customer_name;
    $("svc-thread-status").textContent = detail.status === "open" ? t.open : t.closed;
    $("svc-close").hidden = detail.status !== "open";
    $("svc-reopen").hidden = detail.status === "open";
    $("svc-thread-room").textContent = detail.live_session_title ? format(t.from_room, { title: detail.live_session_title }) : "";
    showCustomer(detail.customer);
  }

  function showCustomer(customer) {
    var box = $("svc-customer");
    box.hidden = !customer;
    if (!customer) return;
    $("svc-customer-name").textContent = customer.name;
    var identities = $("svc-identities");
    identities.textContent = "";
    customer.identities.forEach(function (identity) {
      var item = document.createElement("li");
      item.className = "mono";
      item.textContent = identity.channel + " · " + identity.value;
      identities.appendChild(item);
    });
    $("svc-tags").textContent = customer.tags.join(" · ");
    var rows = $("svc-orders");
    rows.textContent = "";
    customer.orders.forEach(function (order) {
      var row = document.createElement("tr");
      [order.number, config.order_status[order.status] || order.status, money(order.total_fen), when(order.created_at)]
        .forEach(function (value) {
          var cell = document.createElement("td");
          cell.textContent = value;
          row.appendChild(cell);
        });
      rows.appendChild(row);
    });
    $("svc-orders-empty").hidden = customer.orders.length > 0;
    $("svc-customer-link").href = customer.url;
  }

  async function markRead() {
    if (!current || !lastId) return;
    try { await call("POST", "/api/v1/service/conversations/" + current.id + "/read", { up_to: lastId }); } catch (error) { /* next poll */ }
  }

  async function select(id) {
    var detail;
    try { detail = await call("GET", "/api/v1/service/conversations/" + id); } catch (error) { return; }
    lastId = 0;
    $("svc-messages").textContent = "";
    showThread(detail);
    addMessages(detail.messages);
    history.replaceState(null, "", "?conversation=" + id + (config.live_session_id ? "&live_session_id=" + config.live_session_id : ""));
    await markRead();
    loadInbox();
  }

  async function poll() {
    if (!current || busy) return;
    busy = true;
    try {
      var detail = await call("GET", "/api/v1/service/conversations/" + current.id + "?after=" + lastId);
      var before = lastId;
      showThread(detail);
      addMessages(detail.messages);
      if (lastId !== before && !document.hidden) await markRead();
    } catch (error) { /* the next poll tries again */ } finally { busy = false; }
  }

  async function send(event) {
    event.preventDefault();
    if (!current) return;
    var box = $("svc-reply-text");
    var text = box.value.trim();
    var error = $("svc-reply-error");
    error.hidden = true;
    if (!text) return;
    $("svc-send").disabled = true;
    try {
      await call("POST", "/api/v1/service/conversations/" + current.id + "/messages", { text: text });
      box.value = "";
      await poll();
      loadInbox();
    } catch (failure) {
      error.textContent = format(t.failed, { message: failure.message });
      error.hidden = false;
    } finally {
      $("svc-send").disabled = false;
    }
  }

  async function setStatus(verb) {
    if (!current) return;
    try {
      await call("POST", "/api/v1/service/conversations/" + current.id + "/" + verb);
      await poll();
      loadInbox();
    } catch (error) { /* shown on the next poll */ }
  }

  page.querySelectorAll("[data-status]").forEach(function (chip) {
    chip.addEventListener("click", function () {
      status = chip.dataset.status;
      page.querySelectorAll("[data-status]").forEach(function (other) { other.classList.toggle("active", other === chip); });
      loadInbox();
    });
  });
  $("svc-reply").addEventListener("submit", send);
  $("svc-reply-text").addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) send(event);
  });
  $("svc-close").addEventListener("click", function () { setStatus("close"); });
  $("svc-reopen").addEventListener("click", function () { setStatus("reopen"); });
  document.addEventListener("liveloop:insert-text", function (event) {
    var box = $("svc-reply-text");
    box.value = ((event.detail || {}).text || "");
    box.focus();
  });
  document.addEventListener("visibilitychange", function () { if (!document.hidden) markRead(); });
  loadInbox();
  if (config.conversation_id) select(config.conversation_id);
  setInterval(loadInbox, 5000);
  setInterval(poll, 3000);
})();
