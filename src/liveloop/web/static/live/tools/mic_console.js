/* Mic section of the anchor console (live/tools/_mic_console.html).
 *
 * Reads the panel from GET /api/v1/live/{id}/mic and reads it again whenever the room says
 * something changed (the public `mic` card, the staff-only `mic_request`). Everything a
 * person wrote is shown with textContent.
 */
(function () {
  "use strict";

  var panel = document.getElementById("mic-panel");
  if (!panel || !window.LiveLoopConsole) return;
  var api = window.LiveLoopConsole;
  var t = JSON.parse(document.getElementById("mic-i18n").textContent);
  var liveId = panel.dataset.liveSessionId;
  var $ = function (id) { return document.getElementById(id); };
  var view = null;
  var loading = null;

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, name) {
      return values[name] === undefined ? "" : String(values[name]);
    });
  }

  function time(iso) {
    return iso ? new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "";
  }

  function button(label, className, action) {
    var element = document.createElement("button");
    element.type = "button";
    element.className = "button small " + className;
    element.textContent = label;
    element.addEventListener("click", async function () {
      element.disabled = true;
      try { await action(); } catch (error) { /* toasted by the console helper */ }
      load();
    });
    return element;
  }

  function item(request, actions) {
    var li = document.createElement("li");
    li.dataset.requestId = request.id;
    var name = document.createElement("span");
    name.className = "mic-name";
    name.textContent = request.name || ("#" + request.customer_id);
    li.appendChild(name);
    var meta = document.createElement("span");
    meta.className = "muted small";
    meta.textContent = request.seat
      ? format(t.seat, { seat: request.seat }) + " · " + format(t.since, { time: time(request.accepted_at) })
      : time(request.requested_at);
    li.appendChild(meta);
    var box = document.createElement("span");
    box.className = "mic-actions";
    actions.forEach(function (action) { box.appendChild(action); });
    li.appendChild(box);
    if (request.note) {
      var note = document.createElement("span");
      note.className = "mic-note";
      note.textContent = request.note;
      li.appendChild(note);
    }
    return li;
  }

  function decide(request, verb) {
    return function () { return api.call("POST", "/api/v1/mic/requests/" + request.id + "/" + verb, verb === "accept" ? undefined : {}); };
  }

  function render() {
    var mic = view.mic;
    $("mic-status").textContent = mic.is_open ? t.state_open : t.state_closed;
    $("mic-toggle").textContent = mic.is_open ? t.close : t.open;
    $("mic-toggle").classList.toggle("primary", !mic.is_open);
    $("mic-max-guests").value = String(mic.max_guests);
    var guests = $("mic-guests");
    guests.textContent = "";
    view.guests.forEach(function (request) {
      guests.appendChild(item(request, [button(t.end, "", decide(request, "end"))]));
    });
    $("mic-guests-empty").hidden = view.guests.length > 0;
    var queue = $("mic-queue");
    queue.textContent = "";
    view.queue.forEach(function (request) {
      queue.appendChild(item(request, [
        button(t.accept, "primary mic-accept", decide(request, "accept")),
        button(t.reject, "mic-reject", decide(request, "reject")),
      ]));
    });
    $("mic-queue-count").textContent = view.queue.length ? "(" + view.queue.length + ")" : "";
    $("mic-queue-empty").hidden = view.queue.length > 0;
    var rows = $("mic-history");
    rows.textContent = "";
    view.history.forEach(function (request) {
      var row = document.createElement("tr");
      var outcome = (t.status[request.status] || request.status) +
        (request.status === "ended" && request.ended_by ? " " + (t.by[request.ended_by] || "") : "") +
        (request.reason ? " · " + request.reason : "");
      [request.name || ("#" + request.customer_id), outcome,
        request.wait_seconds === null ? "" : format(t.seconds, { n: request.wait_seconds }),
        request.on_mic_seconds === null ? "" : format(t.seconds, { n: request.on_mic_seconds })]
        .forEach(function (value) {
          var cell = document.createElement("td");
          cell.textContent = String(value);
          row.appendChild(cell);
        });
      rows.appendChild(row);
    });
  }

  var again = false;

  // One read at a time; a change that arrives during a read gets one more read after it.
  async function load() {
    if (loading) { again = true; return loading; }
    loading = (async function () {
      do {
        again = false;
        try {
          view = await api.call("GET", "/api/v1/live/" + liveId + "/mic");
          render();
        } catch (error) { /* toasted by the console helper */ }
      } while (again);
      loading = null;
    })();
    return loading;
  }

  async function configure(open) {
    view = await api.call("PUT", "/api/v1/live/" + liveId + "/mic", {
      is_open: open, max_guests: Number($("mic-max-guests").value),
    });
    render();
  }

  $("mic-toggle").addEventListener("click", function () {
    if (!view) return;
    if (view.mic.is_open && !window.confirm(t.confirm_close)) return;
    configure(!view.mic.is_open).catch(function () {});
  });
  $("mic-max-guests").addEventListener("change", function () {
    if (view && view.mic.is_open) configure(true).catch(function () {});
  });
  document.addEventListener("liveloop:room-message", function (event) {
    var type = (event.detail || {}).type;
    if (type === "mic" || type === "mic_request") load();
  });
  load();
})();
