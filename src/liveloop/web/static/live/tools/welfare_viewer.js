/* Follow for welfare (关注送福利) on the viewer page (live/tools/_welfare_viewer.html).
 *
 * Follows the room's `welfare` card (in the snapshot's promotions too): the pop-up opens by
 * itself once per offer and is counted as seen; "Join and claim" taps the offer (POST …/tap)
 * for a personal join link and its QR code; while the viewer has a link and has not joined,
 * their state is read again every few seconds (the join happens on the link's page, perhaps on
 * another phone) and when the page comes back into view. Text goes in with textContent.
 */
(function () {
  "use strict";

  var t = JSON.parse(document.getElementById("lwf-i18n").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var card = null;
  var me = null; // this viewer's state, from GET /api/v1/public/welfare-offers/{id}
  var opened = {}; // offer ids whose sheet opened by itself (and were counted as seen)
  var PENDING = { tapped: true, opened: true, awaiting_channel: true };

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, name) {
      return values[name] === undefined ? "" : String(values[name]);
    });
  }

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
    var box = $("lwf-note");
    box.textContent = text || "";
    box.hidden = !text;
  }

  function render() {
    if (!card) {
      $("lwf-badge").hidden = true;
      $("lwf-sheet").hidden = true;
      return;
    }
    $("lwf-badge").hidden = false;
    $("lwf-text").textContent = card.popup_text;
    $("lwf-reward").textContent = format(t.reward, { reward: card.reward.name });
    $("lwf-community").textContent = format(t.community, { community: card.community.name }) +
      (card.joined ? " · " + format(t.joined, { count: card.joined }) : "");
    var state = (me && me.state) || "none";
    var link = me && me.link;
    $("lwf-claim").hidden = state !== "none" || !!link;
    var box = $("lwf-link-box");
    box.hidden = !link;
    if (link) {
      if ($("lwf-qr").getAttribute("src") !== link.qr_url) $("lwf-qr").src = link.qr_url;
      $("lwf-link").href = link.url;
      $("lwf-hint").textContent = state === "awaiting_channel" ? t.hint_channel : t.hint_link;
    }
    var text = t.states[state];
    var stateBox = $("lwf-state");
    stateBox.hidden = !text;
    stateBox.className = "lwf-state" + (state === "rewarded" ? " done" : "");
    stateBox.textContent = text
      ? format(text, { reward: card.reward.name, note: (me && me.reward_note) || "" })
      : "";
    $("lwf-badge-text").textContent = state === "rewarded" ? t.claimed_badge : $("lwf-badge").dataset.label;
  }

  async function refreshMine() {
    if (!card || !viewer().token) return;
    try {
      var data = await call("GET", "/api/v1/public/welfare-offers/" + card.id);
      me = data.me;
      if (data.card) card.joined = data.card.joined;
    } catch (error) { /* keep what is shown */ }
    render();
  }

  async function markSeen(offerId) {
    try { await call("POST", "/api/v1/public/welfare-offers/" + offerId + "/seen"); }
    catch (error) { /* counting is best effort */ }
  }

  function show(next) {
    var fresh = !card || !next || card.id !== next.id;
    card = next;
    if (fresh) { me = null; note(""); $("lwf-login").hidden = true; }
    if (!card) { render(); return; }
    if (!opened[card.id]) {
      opened[card.id] = true;
      $("lwf-sheet").hidden = false;
      markSeen(card.id);
    }
    render();
    if (fresh) refreshMine();
  }

  async function claim() {
    if (!card) return;
    note("");
    try {
      me = await call("POST", "/api/v1/public/welfare-offers/" + card.id + "/tap");
    } catch (error) {
      if (error.code === "customer_required") askPhone();
      else note(error.message);
    }
    render();
  }

  var phoneCode = null;

  function askPhone() {
    note(t.need_phone);
    $("lwf-login").hidden = false;
    if (!phoneCode && window.LiveLoopPhoneCode) {
      phoneCode = window.LiveLoopPhoneCode.bind($("lwf-phone-code"), function () { return viewer().token; });
    }
    if (phoneCode) phoneCode.show(true);
  }

  async function login(event) {
    event.preventDefault();
    var phone = $("lwf-phone").value.trim();
    try {
      var answer = await call("POST", "/api/v1/public/phone-login", {
        phone: phone, code: phoneCode ? phoneCode.code() : "",
      });
      if (viewer().setToken) viewer().setToken(answer.viewer_token);
      $("lwf-login").hidden = true;
      note("");
      await claim(); // verified: go on with the claim the viewer asked for
    } catch (error) {
      note(error.message);
    }
  }

  document.addEventListener("liveloop:room-message", function (event) {
    var msg = event.detail || {};
    if (msg.type === "snapshot") {
      var cards = (msg.state || {}).promotions || {};
      show(cards.welfare || null);
    } else if (msg.type === "welfare") {
      show(msg.card || null);
    }
  });
  $("lwf-badge").dataset.label = $("lwf-badge-text").textContent;
  $("lwf-badge").addEventListener("click", function () {
    $("lwf-sheet").hidden = !$("lwf-sheet").hidden;
    if (!$("lwf-sheet").hidden) refreshMine();
  });
  $("lwf-close").addEventListener("click", function () { $("lwf-sheet").hidden = true; });
  $("lwf-claim").addEventListener("click", claim);
  $("lwf-login").addEventListener("submit", login);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && me && PENDING[me.state]) refreshMine();
  });
  setInterval(function () {
    if (card && me && PENDING[me.state] && !document.hidden) refreshMine();
  }, 4000);
})();
