/* Script picker (outreach/_script_picker.html).
 *
 * Searches /api/v1/scripts as the agent types; a click asks /api/v1/scripts/{id}/use for the
 * text filled for the customer (which also counts the use). In the service inbox the customer
 * is the open conversation's (read from its "open the customer" link) and the text goes to the
 * reply box through `liveloop:insert-text`; on the customer page it is shown to copy.
 */
(function () {
  "use strict";

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, name) { return values[name] === undefined ? "" : String(values[name]); });
  }

  function customerId(picker) {
    if (picker.dataset.customerId) return Number(picker.dataset.customerId);
    var link = document.getElementById("svc-customer-link");
    var box = document.getElementById("svc-customer");
    if (!link || (box && box.hidden)) return null;
    var match = /\/console\/customers\/(\d+)/.exec(link.getAttribute("href") || "");
    return match ? Number(match[1]) : null;
  }

  function setUp(picker) {
    if (picker.dataset.ready) return;
    picker.dataset.ready = "1";
    var t = JSON.parse(picker.dataset.i18n);
    var input = picker.querySelector(".script-picker-q");
    var results = picker.querySelector(".script-picker-results");
    var note = picker.querySelector(".script-picker-note");
    var timer = null;
    var asked = 0;

    async function call(method, url, body) {
      var response = await fetch(url, {
        method: method, credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": picker.dataset.csrf },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      var data = null;
      try { data = await response.json(); } catch (error) { data = null; }
      if (!response.ok) throw new Error((data && data.message) || String(response.status));
      return data;
    }

    function say(text) { note.hidden = !text; note.textContent = text || ""; }

    async function search() {
      var q = input.value.trim();
      var mine = ++asked;
      if (!q) { results.textContent = ""; say(""); return; }
      var data;
      try { data = await call("GET", "/api/v1/scripts?per_page=8&q=" + encodeURIComponent(q)); }
      catch (error) { say(format(t.failed, { message: error.message })); return; }
      if (mine !== asked) return; // a newer search is on its way
      results.textContent = "";
      say(data.items.length ? "" : t.none);
      data.items.forEach(function (entry) {
        var item = document.createElement("li");
        var button = document.createElement("button");
        button.type = "button";
        button.dataset.scriptId = entry.id;
        var title = document.createElement("strong");
        title.textContent = entry.title;
        var preview = document.createElement("span");
        preview.className = "preview";
        preview.textContent = entry.text;
        button.title = format(t.uses, { n: entry.usage_count });
        button.append(title, preview);
        button.addEventListener("click", function () { use(entry); });
        item.appendChild(button);
        results.appendChild(item);
      });
    }

    async function use(entry) {
      var data;
      try {
        data = await call("POST", "/api/v1/scripts/" + entry.id + "/use", { customer_id: customerId(picker) });
      } catch (error) { say(format(t.failed, { message: error.message })); return; }
      say(data.missing.length ? format(t.missing, { names: data.missing.join(", ") }) : "");
      if (picker.dataset.mode === "copy") {
        var box = picker.querySelector(".script-picker-copy");
        var text = picker.querySelector(".script-picker-text");
        box.hidden = false;
        text.value = data.message;
        text.focus();
        text.select();
      } else {
        document.dispatchEvent(new CustomEvent("liveloop:insert-text", { detail: { text: data.message } }));
        results.textContent = "";
        input.value = "";
      }
    }

    input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(search, 200); });
    // Inside the reply form: Enter searches at once and never sends the reply.
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); clearTimeout(timer); search(); }
    });
    var copy = picker.querySelector(".script-picker-copy-button");
    if (copy) {
      copy.addEventListener("click", async function () {
        var text = picker.querySelector(".script-picker-text");
        try {
          if (navigator.clipboard && window.isSecureContext) await navigator.clipboard.writeText(text.value);
          else { text.select(); document.execCommand("copy"); }
          say(t.copied);
        } catch (error) { say(format(t.failed, { message: error.message })); }
      });
    }
  }

  document.querySelectorAll(".script-picker").forEach(setUp);
})();
