/* LiveLoop anchor console: the room's comments with moderation, product push, notices, figures.
 *
 * Joins the room socket with a staff token (staff see every comment, with its author) and acts
 * through the live console API with fetch + X-CSRF-Token. The page changes only when the room
 * says so (product_push, room_state…), so what the anchor sees is what the viewers see.
 * Every room message is also dispatched on `document` as `liveloop:room-message` and the fetch
 * helper is `window.LiveLoopConsole.call(method, url, body)`, for the interaction tool panels.
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("console-config").textContent);
  var t = config.i18n;
  var $ = function (id) { return document.getElementById(id); };
  var MAX_COMMENTS = 400;
  var recentComments = []; // arrival times (ms) within the last minute
  var pushedId = config.pushed_product_id;

  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, name) {
      return values[name] === undefined ? "" : String(values[name]);
    });
  }

  function toast(message) {
    var box = $("toast");
    if (!box) return;
    box.textContent = message;
    box.hidden = false;
    clearTimeout(box._timer);
    box._timer = setTimeout(function () { box.hidden = true; }, 5000);
  }

  async function call(method, url, body) {
    var response = await fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": config.csrf },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    var data = null;
    try { data = await response.json(); } catch (error) { data = null; }
    if (!response.ok) {
      var message = (data && data.message) || response.status + " " + response.statusText;
      toast(format(t.failed, { message: message }));
      throw new Error(message);
    }
    return data;
  }

  // ---- figures and state ----------------------------------------------------------------

  function setFigure(id, value) {
    if (value !== undefined && value !== null) $(id).textContent = String(value);
  }

  function setCounts(msg) {
    setFigure("figure-online", msg.online);
    setFigure("figure-peak", msg.peak);
    setFigure("figure-total", msg.total);
  }

  function updateCommentRate() {
    var cutoff = Date.now() - 60000;
    while (recentComments.length && recentComments[0] < cutoff) recentComments.shift();
    setFigure("figure-cpm", recentComments.length);
  }

  function setStatus(status, commentsEnabled) {
    if (status) {
      config.status = status;
      var badge = $("status-badge");
      badge.dataset.status = status;
      badge.textContent = t.status[status] || status;
      $("start-button").hidden = status !== "scheduled";
      $("stop-button").hidden = status !== "live";
    }
    if (commentsEnabled !== undefined) $("comments-switch").checked = !!commentsEnabled;
  }

  function setPushed(product) {
    pushedId = product ? product.id : null;
    $("pushed-now").hidden = !product;
    $("pushed-now-name").textContent = product ? product.name : "";
    document.querySelectorAll(".room-product").forEach(function (item) {
      item.classList.toggle("current", Number(item.dataset.productId) === pushedId);
    });
  }

  function setStock(msg) {
    // The line-up shows a product's total; a SKU message carries that SKU's stock only, so
    // the figure is refreshed from a product_push or a reload. A product-wide one is exact.
    if (msg.sku_id !== undefined && msg.sku_id !== null) return;
    var item = document.querySelector('.room-product[data-product-id="' + Number(msg.product_id) + '"] [data-stock]');
    if (item) item.textContent = String(msg.stock);
  }

  function setAnnouncement(text) {
    var input = $("announcement-input");
    if (document.activeElement !== input) input.value = text || "";
  }

  function setPinned(message) {
    var input = $("pinned-input");
    if (document.activeElement !== input) input.value = (message && message.text) || "";
  }

  // ---- comment stream ----------------------------------------------------------------------

  function clock(ms) {
    var date = ms ? new Date(ms) : new Date();
    return date.toTimeString().slice(0, 8);
  }

  function addComment(msg, kind) {
    var stream = $("comment-stream");
    var node = $("comment-item").content.firstElementChild.cloneNode(true);
    var user = msg.user || {};
    node.dataset.id = msg.id ? String(msg.id) : "";
    node.classList.add("comment-" + kind);
    if (user.role === "staff") node.classList.add("comment-staff");
    node.querySelector(".comment-time").textContent = clock(msg.at);
    node.querySelector(".comment-name").textContent = user.role === "staff" ? user.name + " · " + t.host : (user.name || "");
    node.querySelector(".comment-text").textContent = kind === "gift"
      ? format(t.gift, { gift: msg.gift, count: msg.count })
      : msg.text;
    var author = msg.author || null;
    var actions = node.querySelector(".comment-actions");
    if (kind !== "comment" || user.role === "staff" || !author) {
      actions.querySelectorAll("[data-act=mute], [data-act=kick], [data-act=ban]").forEach(function (b) { b.remove(); });
    }
    if (kind !== "comment" || !msg.id) actions.querySelector("[data-act=delete]").remove();
    actions.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-act]");
      if (button) moderate(button.dataset.act, msg, author, node);
    });
    stream.appendChild(node);
    while (stream.children.length > MAX_COMMENTS) stream.removeChild(stream.firstChild);
    $("comment-empty").hidden = true;
    if ($("follow-switch").checked) stream.scrollTop = stream.scrollHeight;
  }

  function markDeleted(id) {
    var node = $("comment-stream").querySelector('[data-id="' + CSS.escape(String(id)) + '"]');
    if (!node) return;
    node.classList.add("deleted");
    var button = node.querySelector("[data-act=delete]");
    if (button) button.remove();
  }

  async function moderate(action, msg, author, node) {
    var name = (msg.user && msg.user.name) || "";
    var who = author ? { customer_id: author.customer_id, device_id: author.device_id || "" } : null;
    if (action === "delete") {
      await call("DELETE", config.urls.delete + encodeURIComponent(String(msg.id)));
      markDeleted(msg.id);
      toast(t.deleted);
      return;
    }
    if (!who) { toast(t.no_author); return; }
    if (action === "mute") {
      await call("POST", config.urls.mute, Object.assign({ minutes: config.mute_minutes }, who));
      toast(format(t.muted, { name: name }));
    } else if (action === "kick") {
      if (!window.confirm(format(t.confirm_kick, { name: name }))) return;
      await call("POST", config.urls.kick, who);
      toast(format(t.kicked, { name: name }));
    } else if (action === "ban") {
      if (!window.confirm(format(t.confirm_ban, { name: name }))) return;
      await call("POST", config.urls.ban, who);
      toast(format(t.banned, { name: name }));
    }
    node.classList.add("acted-" + action);
    var badge = document.createElement("span");
    badge.className = "acted-badge";
    badge.textContent = t["badge_" + action] || action;
    node.querySelector(".comment-name").appendChild(badge);
  }

  // ---- room messages ----------------------------------------------------------------------------

  var handlers = {
    snapshot: function (msg) {
      var state = msg.state || {};
      setStatus(state.status, state.comments_enabled);
      setCounts(state);
      setFigure("figure-likes", state.like_total);
      setPushed(state.product || null);
      setAnnouncement(state.announcement);
      setPinned(state.pinned);
    },
    comment: function (msg) {
      recentComments.push(Date.now());
      addComment(msg, "comment");
    },
    gift: function (msg) { addComment(msg, "gift"); },
    comment_deleted: function (msg) { markDeleted(msg.id); },
    like_total: function (msg) { setFigure("figure-likes", msg.total); },
    viewer_count: setCounts,
    room_state: function (msg) { setStatus(msg.status, msg.comments_enabled); },
    product_push: function (msg) { setPushed(msg.product); },
    product_unpush: function (msg) { if (pushedId === msg.product_id) setPushed(null); },
    product_stock: setStock,
    announcement: function (msg) { setAnnouncement(msg.text); },
    pinned: function (msg) { setPinned(msg.message); },
    system: function (msg) { toast(msg.text || msg.code); },
  };

  function onMessages(msgs) {
    msgs.forEach(function (msg) {
      var handler = handlers[msg.type];
      if (handler) handler(msg);
      // Tool panels (live/tools/*_console.html) follow the room without touching this file.
      document.dispatchEvent(new CustomEvent("liveloop:room-message", { detail: msg }));
    });
  }

  function onState(kind, detail) {
    var label = $("connection-state");
    label.dataset.state = kind;
    label.textContent = { connecting: t.connecting, live: t.connected, retrying: t.reconnecting, closed: t.closed }[kind] || kind;
    if (kind === "closed" && detail.kind === "ended") setStatus("ended");
  }

  async function getToken(refresh) {
    if (refresh || !config.token) {
      var data = await call("GET", config.token_url);
      config.token = data.token;
    }
    return config.token;
  }

  // For the tool panels: the console's fetch helper (JSON, CSRF, toast on failure).
  window.LiveLoopConsole = { call: call, toast: toast, format: format, config: config };

  var room = new window.LiveLoopRoomSocket({
    path: config.ws_path,
    getToken: getToken,
    onMessages: onMessages,
    onState: onState,
  });

  // ---- controls ------------------------------------------------------------------------------------

  function wire() {
    $("start-button").addEventListener("click", async function () {
      if (!window.confirm(t.confirm_start)) return;
      var data = await call("POST", config.urls.start, {});
      setStatus((data && data.status) || "live");
      if (!room.isOpen()) room.start();
    });
    $("stop-button").addEventListener("click", async function () {
      if (!window.confirm(t.confirm_stop)) return;
      var data = await call("POST", config.urls.stop, {});
      setStatus((data && data.status) || "ended");
    });
    document.querySelectorAll(".push-button").forEach(function (button) {
      button.addEventListener("click", async function () {
        await call("POST", config.urls.push, { product_id: Number(button.dataset.productId) });
        toast(t.pushed);
      });
    });
    $("unpush-button").addEventListener("click", async function () {
      await call("POST", config.urls.unpush, {});
      toast(t.unpushed);
    });
    $("announcement-form").addEventListener("submit", async function (event) {
      event.preventDefault();
      await call("PUT", config.urls.announcement, { text: $("announcement-input").value.trim() });
      toast(t.saved);
    });
    $("announcement-clear").addEventListener("click", async function () {
      $("announcement-input").value = "";
      await call("PUT", config.urls.announcement, { text: "" });
    });
    $("pinned-form").addEventListener("submit", async function (event) {
      event.preventDefault();
      await call("PUT", config.urls.pinned, { text: $("pinned-input").value.trim() });
      toast(t.saved);
    });
    $("pinned-clear").addEventListener("click", async function () {
      $("pinned-input").value = "";
      await call("PUT", config.urls.pinned, { text: "" });
    });
    $("comments-switch").addEventListener("change", async function (event) {
      var enabled = event.target.checked;
      try {
        await call("PUT", config.urls.comments, { enabled: enabled });
      } catch (error) {
        event.target.checked = !enabled;
      }
    });
    $("say-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var input = $("say-input");
      var text = input.value.trim();
      if (text && room.send({ type: "comment", text: text })) input.value = "";
    });
    setInterval(updateCommentRate, 2000);
  }

  wire();
  if (config.status === "live" || config.status === "scheduled") room.start();
  else onState("closed", {});
})();
