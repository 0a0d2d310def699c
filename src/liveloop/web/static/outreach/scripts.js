/* Script library console page (outreach/scripts.html): categories, search and the editor,
 * all through /api/v1/scripts. What people wrote is shown with textContent. */
(function () {
  "use strict";

  var page = document.getElementById("scripts-page");
  if (!page) return;
  var config = JSON.parse(document.getElementById("scripts-config").textContent);
  var t = JSON.parse(document.getElementById("scripts-i18n").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var categories = [];
  var category = null; // the picked category id, null: all
  var editing = null; // the entry being edited, null: a new one

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, name) { return values[name] === undefined ? "" : String(values[name]); });
  }

  async function call(method, url, body) {
    var response = await fetch(url, {
      method: method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": page.dataset.csrf },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 204) return null;
    var data = null;
    try { data = await response.json(); } catch (error) { data = null; }
    if (!response.ok) {
      var message = (data && data.message) || response.status + " " + response.statusText;
      throw new Error(data && data.field && message.indexOf(data.field) !== 0 ? data.field + ": " + message : message);
    }
    return data;
  }

  function showError(id, error) {
    var box = $(id);
    if (!box) return;
    box.hidden = !error;
    box.textContent = error ? format(t.failed, { message: error.message }) : "";
  }

  function categoryName(id) {
    var found = categories.find(function (c) { return c.id === id; });
    return found ? found.name : t.none;
  }

  async function loadCategories() {
    categories = await call("GET", "/api/v1/scripts/categories");
    var list = $("scripts-categories");
    list.textContent = "";
    [{ id: null, name: t.all }].concat(categories).forEach(function (row) {
      var item = document.createElement("li");
      if (row.id === category) item.className = "active";
      var pick = document.createElement("button");
      pick.type = "button";
      pick.className = "pick";
      pick.textContent = row.id === null ? row.name : row.name + " (" + row.entry_count + ")";
      pick.addEventListener("click", function () { category = row.id; loadCategories(); search(); });
      item.appendChild(pick);
      if (config.can_manage && row.id !== null) {
        var rename = document.createElement("button");
        rename.type = "button"; rename.className = "link small"; rename.textContent = t.rename;
        rename.addEventListener("click", async function () {
          var name = window.prompt(t.rename_prompt, row.name);
          if (!name) return;
          try { await call("PATCH", "/api/v1/scripts/categories/" + row.id, { name: name }); showError("scripts-category-error", null); }
          catch (error) { showError("scripts-category-error", error); }
          loadCategories(); search();
        });
        var remove = document.createElement("button");
        remove.type = "button"; remove.className = "link small"; remove.textContent = "×";
        remove.setAttribute("aria-label", t.delete);
        remove.addEventListener("click", async function () {
          if (!window.confirm(t.confirm_category)) return;
          try { await call("DELETE", "/api/v1/scripts/categories/" + row.id); } catch (error) { showError("scripts-category-error", error); }
          if (category === row.id) category = null;
          loadCategories(); search();
        });
        item.append(rename, remove);
      }
      list.appendChild(item);
    });
    var select = $("scripts-form-category");
    select.textContent = "";
    [{ id: "", name: t.none }].concat(categories).forEach(function (row) {
      var option = document.createElement("option");
      option.value = row.id; option.textContent = row.name;
      select.appendChild(option);
    });
  }

  async function search() {
    var query = new URLSearchParams({ per_page: "100" });
    var q = $("scripts-q").value.trim();
    if (q) query.set("q", q);
    if ($("scripts-scope").value) query.set("scope", $("scripts-scope").value);
    if (category !== null) query.set("category_id", category);
    var data = await call("GET", "/api/v1/scripts?" + query);
    var rows = $("scripts-rows");
    rows.textContent = "";
    data.items.forEach(function (entry) {
      var row = document.createElement("tr");
      row.dataset.scriptId = entry.id;
      var title = document.createElement("td");
      var strong = document.createElement("strong");
      strong.textContent = entry.title;
      var preview = document.createElement("span");
      preview.className = "preview";
      preview.textContent = entry.text.length > 80 ? entry.text.slice(0, 80) + "…" : entry.text;
      title.append(strong, preview);
      var cat = document.createElement("td"); cat.textContent = categoryName(entry.category_id);
      var scope = document.createElement("td");
      var badge = document.createElement("span");
      badge.className = "badge" + (entry.scope === "personal" ? " warn" : "");
      badge.textContent = t[entry.scope];
      scope.appendChild(badge);
      var uses = document.createElement("td"); uses.textContent = entry.usage_count;
      var actions = document.createElement("td");
      if (entry.scope === "personal" || config.can_manage) {
        var edit = document.createElement("button");
        edit.type = "button"; edit.className = "button small"; edit.textContent = t.edit;
        edit.addEventListener("click", function () { openEditor(entry); });
        actions.appendChild(edit);
      }
      row.append(title, cat, scope, uses, actions);
      rows.appendChild(row);
    });
    $("scripts-empty").hidden = data.items.length > 0;
  }

  function openEditor(entry) {
    editing = entry;
    var form = $("scripts-form");
    $("scripts-editor").hidden = false;
    $("scripts-editor-title").textContent = entry ? t.editing : t.new;
    form.elements.title.value = entry ? entry.title : "";
    form.elements.text.value = entry ? entry.text : "";
    form.elements.category_id.value = entry && entry.category_id ? entry.category_id : (category || "");
    form.elements.scope.value = entry ? entry.scope : (config.can_manage ? "shop" : "personal");
    form.elements.scope.disabled = !!entry;
    form.elements.keywords.value = entry ? entry.keywords.join(", ") : "";
    form.elements.images.value = entry ? entry.images.join("\n") : "";
    form.elements.links.value = entry ? entry.links.map(function (l) { return l.title + " " + l.url; }).join("\n") : "";
    $("scripts-delete").hidden = !entry;
    showError("scripts-form-error", null);
    form.elements.title.focus();
  }

  function lines(text) { return text.split("\n").map(function (l) { return l.trim(); }).filter(Boolean); }

  async function save(event) {
    event.preventDefault();
    var form = $("scripts-form");
    var body = {
      title: form.elements.title.value,
      text: form.elements.text.value,
      category_id: form.elements.category_id.value ? Number(form.elements.category_id.value) : null,
      keywords: form.elements.keywords.value.split(/[,，]/).map(function (k) { return k.trim(); }).filter(Boolean),
      images: lines(form.elements.images.value),
      links: lines(form.elements.links.value).map(function (line) {
        var at = line.search(/\s(https?:\/\/|\/)\S*$/);
        return at > 0 ? { title: line.slice(0, at).trim(), url: line.slice(at).trim() } : { title: line, url: line };
      }),
    };
    try {
      if (editing) await call("PATCH", "/api/v1/scripts/" + editing.id, body);
      else await call("POST", "/api/v1/scripts", Object.assign({ scope: form.elements.scope.value }, body));
    } catch (error) { showError("scripts-form-error", error); return; }
    $("scripts-editor").hidden = true;
    await loadCategories();
    await search();
  }

  $("scripts-form").addEventListener("submit", save);
  $("scripts-cancel").addEventListener("click", function () { $("scripts-editor").hidden = true; });
  $("scripts-delete").addEventListener("click", async function () {
    if (!editing || !window.confirm(t.confirm_delete)) return;
    try { await call("DELETE", "/api/v1/scripts/" + editing.id); } catch (error) { showError("scripts-form-error", error); return; }
    $("scripts-editor").hidden = true;
    await loadCategories();
    await search();
  });
  $("scripts-new").addEventListener("click", function () { openEditor(null); });
  $("scripts-search").addEventListener("submit", function (event) { event.preventDefault(); search(); });
  var timer = null;
  $("scripts-q").addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(search, 250); });
  $("scripts-scope").addEventListener("change", search);
  var categoryForm = $("scripts-category-form");
  if (categoryForm) {
    categoryForm.addEventListener("submit", async function (event) {
      event.preventDefault();
      try {
        await call("POST", "/api/v1/scripts/categories", { name: $("scripts-category-name").value });
        $("scripts-category-name").value = "";
        showError("scripts-category-error", null);
      } catch (error) { showError("scripts-category-error", error); }
      loadCategories();
    });
  }
  loadCategories().then(search);
})();
