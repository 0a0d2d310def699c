/* In-room customer service (客服) on the viewer page (live/tools/_servicechat_viewer.html).
 *
 * Opens the viewer's conversation with the shop (POST /api/v1/public/service/conversations),
 * sends messages (each with a client id, so a retried send lands once) and fetches new ones
 * every 3 s while the chat is open, every 20 s for the unread badge while it is closed. The
 * room socket carries no private messages, hence the polling. Text goes in with textContent.
 */
(function () {
  "use strict";

  var t = JSON.parse(document.getElementById("lsvc-i18n").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var conversationId = null;
  var lastId = 0;
  var phoneCode = null;
  var polling = false;
  var sends = 0;

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

  function note(text) {
    $("lsvc-note").textContent = text || "";
    $("lsvc-note").hidden = !text;
  }

  function isOpen() { return !$("lsvc-sheet").hidden; }

  function badge(unread) {
    var element = $("lsvc-badge");
    element.textContent = unread ? String(unread) : "";
    element.hidden = !unread || isOpen();
  }

  function add(messages) {
    var list = $("lsvc-messages");
    messages.forEach(function (message) {
      if (message.id <= lastId) return;
      var item = document.createElement("li");
      item.className = message.sender;
      item.dataset.messageId = message.id;
      var who = document.createElement("span");
      who.className = "lsvc-who";
      who.textContent = message.sender === "agent" ? t.agent : t.you;
      var text = document.createElement("span");
      text.className = "lsvc-text";
      text.textContent = message.text;
      item.append(who, text);
      list.appendChild(item);
      lastId = message.id;
    });
    if (messages.length) list.scrollTop = list.scrollHeight;
    $("lsvc-hint").hidden = list.children.length > 0;
  }

  async function markRead() {
    if (!conversationId || !lastId || !isOpen()) return;
    try {
      await call("POST", "/api/v1/public/service/conversations/" + conversationId + "/read", { up_to: lastId });
      badge(0);
    } catch (error) { /* the next poll */ }
  }

  async function open() {
    note("");
    try {
      var thread = await call("POST", "/api/v1/public/service/conversations");
      conversationId = thread.id;
      $("lsvc-login").hidden = true;
      add(thread.messages);
      markRead();
    } catch (error) {
      if (error.code === "customer_required") askPhone();
      else note(error.message);
    }
  }

  async function poll() {
    if (!conversationId || polling) return;
    polling = true;
    try {
      var thread = await call("GET", "/api/v1/public/service/conversations/" + conversationId + "?after=" + lastId);
      add(thread.messages);
      if (isOpen()) await markRead();
      else badge(thread.unread);
    } catch (error) { /* the next poll tries again */ } finally { polling = false; }
  }

  async function send(event) {
    event.preventDefault();
    var input = $("lsvc-text");
    var text = input.value.trim();
    if (!text) return;
    if (!conversationId) { await open(); if (!conversationId) return; }
    note("");
    $("lsvc-send").disabled = true;
    sends += 1;
    try {
      await call("POST", "/api/v1/public/service/conversations/" + conversationId + "/messages", {
        text: text, client_id: "v" + Date.now().toString(36) + "-" + sends,
      });
      input.value = "";
      await poll();
    } catch (error) {
      if (error.code === "customer_required") askPhone();
      else note(error.message);
    } finally {
      $("lsvc-send").disabled = false;
    }
  }

  function askPhone() {
    note(t.need_phone);
    $("lsvc-login").hidden = false;
    if (!phoneCode && window.LiveLoopPhoneCode) {
      phoneCode = window.LiveLoopPhoneCode.bind($("lsvc-phone-code"), function () { return viewer().token; });
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
      $("lsvc-login").hidden = true;
      note("");
      $("lsvc-hint").textContent = t.logged_in;
      await open();
    } catch (error) {
      note(error.message);
    }
  }

  async function findMine() {
    if (!viewer().token || conversationId) return;
    try {
      var mine = await call("GET", "/api/v1/public/service/conversations/mine");
      if (mine.id) { conversationId = mine.id; badge(mine.unread); }
    } catch (error) { /* a guest token, an expired one: nothing to show */ }
  }

  $("lsvc-open").addEventListener("click", function () {
    var sheet = $("lsvc-sheet");
    sheet.hidden = !sheet.hidden;
    if (!sheet.hidden) { badge(0); open(); $("lsvc-text").focus(); }
  });
  $("lsvc-close").addEventListener("click", function () { $("lsvc-sheet").hidden = true; });
  $("lsvc-form").addEventListener("submit", send);
  $("lsvc-login").addEventListener("submit", login);
  document.addEventListener("liveloop:token", function () { findMine(); });
  setInterval(function () { if (isOpen()) poll(); }, 3000);
  setInterval(function () { if (!isOpen()) poll(); }, 20000);
})();
