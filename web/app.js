// app.js - siemrelay's integrations page: list, add, detail, test, delete.
// Plain JavaScript against the admin API (docs/admin.md); no framework, no
// build step. Views are chosen by the URL's hash:
//   #/            the list (refreshed every 2 s)
//   #/add         Add Integration: pick a type, fill in its form
//   #/i/<name>    one integration: history, errors, counters, test, delete
//   #/login       the token prompt
// The token lives in sessionStorage and goes out as a Bearer header.
"use strict";

const POLL_MS = 2000;
const TOKEN_KEY = "siemrelay.token";
const MASK = "******";

const state = { who: null, timer: null, types: null };

// ---- small helpers -----------------------------------------------------------

// el("td", {class: "num"}, "text", child...): an element, never innerHTML.
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v === true) e.setAttribute(k, "");
    else e.setAttribute(k, String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// replaceChildren() would print null as "null": keep only real children.
function fill(parent, ...children) {
  parent.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
}

function show(...nodes) {
  fill(document.getElementById("main"), ...nodes);
}

function notice(text) {
  const n = document.getElementById("notice");
  n.textContent = text || "";
  n.hidden = !text;
}

function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return el("time", { datetime: iso, title: iso }, d.toLocaleString());
}

function statusBadge(status) {
  const cls = (status || "Not Connected").toLowerCase().replace(/\s+/g, "-");
  return el("span", { class: "status " + cls }, status || "Not Connected");
}

function canWrite() {
  return state.who && state.who.writable;
}

// Re-renders without losing the keyboard focus: the focused control is
// found again by its id once the new content is in place.
function keepFocus(render) {
  const id = document.activeElement && document.activeElement.id;
  render();
  const again = id && document.getElementById(id);
  if (again && again !== document.activeElement) again.focus({ preventScroll: true });
}

function stopPolling() {
  if (state.timer) clearInterval(state.timer);
  state.timer = null;
}

function poll(fn) {
  stopPolling();
  state.timer = setInterval(fn, POLL_MS);
}

// ---- the API -------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, data) {
    super((data && data.error) || "HTTP " + status);
    this.status = status;
    this.field = data && data.field;
  }
}

async function api(method, path, body) {
  const headers = {};
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = "Bearer " + token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, {
    method, headers, cache: "no-store",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  const text = await res.text();
  if (text) {
    try { data = JSON.parse(text); } catch (e) { data = { error: text }; }
  }
  if (res.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    state.who = null;
    location.hash = "#/login";
    throw new ApiError(401, data);
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

const enc = encodeURIComponent;

// ---- sign-in -------------------------------------------------------------------

async function whoami() {
  state.who = await api("GET", "/api/whoami");
  const who = document.getElementById("who");
  document.getElementById("who-name").replaceChildren(
    el("strong", {}, state.who.name), " ", el("span", { class: "role" }, "(" + state.who.role + ")"));
  who.hidden = false;
  if (!state.who.tokens) {
    notice("No admin tokens are configured: this page is read-only. Add admin.tokens to the " +
           "configuration to make changes (docs/admin.md).");
  } else if (!state.who.writable) {
    notice("Signed in as a viewer: you can see everything but cannot change anything.");
  } else {
    notice("");
  }
}

function viewLogin(message) {
  stopPolling();
  document.getElementById("who").hidden = true;
  const input = el("input", { type: "password", id: "token", name: "token", autocomplete: "off",
                              "aria-describedby": "login-error" });
  const err = el("p", { id: "login-error", class: "form-error", role: "alert" }, message || "");
  const form = el("form", { class: "login card", id: "login-form", onsubmit: async (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    try {
      await whoami();
      location.hash = "#/";
    } catch (e) {
      err.textContent = e.status === 401 ? "That token was not accepted." : e.message;
    }
  } },
  el("h1", {}, "Sign in"),
  el("div", { class: "field" }, el("label", { for: "token" }, "Admin API token"), input,
     el("div", { class: "help" }, "Kept in this browser tab only, sent as a Bearer token.")),
  err,
  el("div", { class: "actions" }, el("button", { type: "submit", class: "primary", id: "sign-in" },
                                     "Sign in")));
  show(form);
  input.focus();
}

// ---- the list ------------------------------------------------------------------

function listRow(it) {
  const c = it.counters || {};
  const actions = [];
  if (canWrite()) {
    actions.push(el("button", { type: "button", class: "test-button", "data-name": it.name, id: "test-" + it.name,
                                onclick: () => { location.hash = "#/i/" + enc(it.name) + "?test=1"; } },
                    "Test"));
  }
  return el("tr", { "data-name": it.name },
    el("td", {}, el("a", { href: "#/i/" + enc(it.name), class: "name", id: "open-" + it.name }, it.name),
       it.source === "file" ? el("div", { class: "muted" }, "from a configuration file") : null,
       it.deleting ? el("div", { class: "muted" }, "being deleted…") : null),
    el("td", {}, it.type),
    el("td", {}, (it.channels || []).map((ch) => el("span", { class: "tag" }, ch))),
    el("td", { class: "status-cell" }, statusBadge(it.status)),
    el("td", {}, when(it.since)),
    el("td", { class: "num delivered" }, c.delivered ?? 0),
    el("td", { class: "num queued" }, (it.queue && it.queue.events) ?? 0),
    el("td", { class: "num dead-lettered" }, c.dead_lettered ?? 0),
    canWrite() ? el("td", {}, actions) : null);
}

async function viewList() {
  const body = el("tbody", { id: "integrations" });
  const table = el("table", { "aria-label": "Integrations" },
    el("thead", {}, el("tr", {},
      el("th", { scope: "col" }, "Name"), el("th", { scope: "col" }, "Type"),
      el("th", { scope: "col" }, "Channels"), el("th", { scope: "col" }, "Status"),
      el("th", { scope: "col" }, "Since"), el("th", { scope: "col", class: "num" }, "Delivered"),
      el("th", { scope: "col", class: "num" }, "Queued"),
      el("th", { scope: "col", class: "num" }, "Dead-lettered"),
      canWrite() ? el("th", { scope: "col" }, "Actions") : null)),
    body);
  const empty = el("p", { class: "muted", hidden: true }, "No integrations yet.");
  show(el("div", { class: "bar" }, el("h1", {}, "SIEM & Data Platforms"),
          canWrite() ? el("a", { href: "#/add", class: "button primary", id: "add-integration" },
                          "+ Add Integration") : null),
       table, empty);
  let last = null;
  const refresh = async () => {
    try {
      const items = await api("GET", "/api/integrations");
      const now = JSON.stringify(items);
      if (now === last) return; // nothing changed: leave the table (and the focus) alone
      last = now;
      keepFocus(() => fill(body, items.map(listRow)));
      empty.hidden = items.length > 0;
    } catch (e) {
      if (e.status !== 401) notice("Cannot read the integrations: " + e.message);
    }
  };
  await refresh();
  poll(refresh);
}

// ---- Add Integration -----------------------------------------------------------

function fieldId(path) {
  return "f-" + path.replace(/[^A-Za-z0-9_-]/g, "_");
}

// One option of the type's schema as a form field.
function optionField(opt) {
  const path = "configuration." + opt.name;
  const id = fieldId(path);
  let input;
  const hint = [];
  if (opt.enum) {
    input = el("select", { id, name: opt.name },
      opt.required ? null : el("option", { value: "" }, opt.default != null ? "(default)" : "(none)"),
      opt.enum.map((v) => el("option", { value: v, selected: opt.required && v === opt.default }, v)));
  } else if (opt.type === "boolean") {
    input = el("select", { id, name: opt.name },
      el("option", { value: "" }, "(default)"), el("option", { value: "true" }, "true"),
      el("option", { value: "false" }, "false"));
  } else if (opt.type === "list" || opt.type === "map" || opt.type === "any") {
    input = el("textarea", { id, name: opt.name, placeholder: opt.type === "list" ? '["a", "b"]' : '{"key": "value"}' });
    hint.push("JSON " + (opt.type === "list" ? "list" : opt.type === "map" ? "object" : "value"));
  } else {
    const type = opt.secret ? "password" : opt.type === "integer" || opt.type === "number" ? "number" : "text";
    input = el("input", { type, id, name: opt.name, autocomplete: opt.secret ? "new-password" : "off",
                          step: opt.type === "number" ? "any" : null,
                          placeholder: opt.default != null && !opt.secret ? String(opt.default) : null });
  }
  input.dataset.type = opt.type;
  input.setAttribute("aria-describedby", id + "-error");
  if (opt.required) input.setAttribute("aria-required", "true");
  if (opt.default != null && !opt.secret) hint.push("default: " + JSON.stringify(opt.default));
  if (opt.secret) hint.push("secret: write-only, never shown again");
  if (opt.aliases && opt.aliases.length) hint.push("also accepted as " + opt.aliases.join(", "));
  return el("div", { class: "field", "data-field": path },
    el("label", { for: id }, opt.name, opt.required ? el("span", { class: "req", title: "required" }, "*") : null),
    input,
    opt.description ? el("div", { class: "help" }, opt.description) : null,
    hint.length ? el("div", { class: "help" }, hint.join(" · ")) : null,
    el("div", { class: "field-error", id: id + "-error", role: "alert" }));
}

function readOption(input) {
  const v = input.value;
  if (v === "") return undefined;
  switch (input.dataset.type) {
    case "boolean": return v === "true";
    case "integer":
    case "number": return Number(v);
    case "list":
    case "map":
    case "any":
      try { return JSON.parse(v); } catch (e) { return v; }
    default: return v;
  }
}

function clearErrors(form) {
  form.querySelectorAll(".field").forEach((f) => f.classList.remove("invalid"));
  form.querySelectorAll(".field-error").forEach((f) => { f.textContent = ""; });
}

function showFieldError(form, field, message) {
  const box = field && form.querySelector('[data-field="' + CSS.escape(field) + '"]');
  if (!box) return false;
  box.classList.add("invalid");
  box.querySelector(".field-error").textContent = message;
  const input = box.querySelector("input, select, textarea");
  if (input) input.focus();
  return true;
}

async function viewAdd() {
  if (!state.types) state.types = await api("GET", "/api/types");
  const usable = state.types.filter((t) => !t.error);
  const select = el("select", { id: "type" }, el("option", { value: "" }, "Choose a type…"),
                    usable.map((t) => el("option", { value: t.type }, t.type)));
  const formBox = el("div", { id: "type-form" });
  select.addEventListener("change", () => {
    const t = usable.find((x) => x.type === select.value);
    fill(formBox, t ? typeForm(t) : null);
  });
  show(el("h1", {}, "Add Integration"),
       el("div", { class: "field" }, el("label", { for: "type" }, "Integration type"), select),
       formBox);
  select.focus();
}

function typeForm(t) {
  const nameInput = el("input", { type: "text", id: "f-name", name: "name", autocomplete: "off",
                                  "aria-required": "true", "aria-describedby": "f-name-error" });
  const channels = el("fieldset", { class: "field checks", "data-field": "channels" },
    el("legend", {}, "Channels"),
    t.channels.map((ch) => el("label", {}, el("input", { type: "checkbox", value: ch, checked: true }), ch)),
    el("div", { class: "field-error", role: "alert" }));
  const formError = el("p", { class: "form-error", id: "form-error", role: "alert" });
  const form = el("form", { class: "config", id: "add-form", novalidate: true },
    el("div", { class: "field", "data-field": "name" },
       el("label", { for: "f-name" }, "Name", el("span", { class: "req", title: "required" }, "*")),
       nameInput,
       el("div", { class: "help" }, "Letters, digits, '.', '_' and '-'; it names the integration everywhere."),
       el("div", { class: "field-error", id: "f-name-error", role: "alert" })),
    channels,
    el("fieldset", {}, el("legend", {}, t.type + " settings"),
       el("div", { class: "config" }, t.options.map(optionField))),
    formError,
    el("div", { class: "actions" },
       el("button", { type: "submit", class: "primary", id: "create" }, "Add Integration"),
       el("a", { href: "#/", class: "button" }, "Cancel")));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    formError.textContent = "";
    const configuration = {};
    form.querySelectorAll('[data-field^="configuration."] [name]').forEach((input) => {
      const v = readOption(input);
      if (v !== undefined) configuration[input.name] = v;
    });
    const body = {
      name: nameInput.value.trim(),
      type: t.type,
      channels: [...channels.querySelectorAll("input:checked")].map((c) => c.value),
      configuration,
    };
    const button = form.querySelector("#create");
    button.disabled = true;
    try {
      const created = await api("POST", "/api/integrations", body);
      location.hash = "#/i/" + enc(created.name);
    } catch (e) {
      if (!showFieldError(form, e.field, e.message)) formError.textContent = e.message;
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

// ---- one integration -------------------------------------------------------------

function counters(it) {
  const c = it.counters || {};
  const q = it.queue || {};
  const cell = (k, v, cls) => el("div", { class: cls || null }, el("div", { class: "v" }, v ?? 0), el("div", { class: "k" }, k));
  return el("div", { class: "grid card", id: "counters" },
    cell("Delivered", c.delivered, "delivered"), cell("Queued", q.events, "queued"),
    cell("Dead-lettered", c.dead_lettered, "dead-lettered"), cell("Received", c.received),
    cell("Retried", c.retried), cell("Rejected", c.rejected), cell("Dropped", c.dropped),
    cell("Attempts", c.attempts), cell("Failed attempts", c.failed_attempts),
    cell("Last latency (ms)", it.last_latency_ms == null ? "—" : it.last_latency_ms.toFixed(1)));
}

function historyTable(history) {
  if (!history || !history.length) return el("p", { class: "muted", id: "history" }, "No status changes yet.");
  return el("table", { id: "history", "aria-label": "Status history" },
    el("thead", {}, el("tr", {}, el("th", {}, "Time"), el("th", {}, "From → To"), el("th", {}, "Reason"))),
    el("tbody", {}, history.slice().reverse().map((h) => el("tr", {},
      el("td", {}, when(h.time)),
      el("td", {}, statusBadge(h.from), " → ", statusBadge(h.to)),
      el("td", { class: "reason" }, h.reason || "")))));
}

function recentErrors(it) {
  const items = [];
  if (it.last_error) items.push(el("li", {}, el("strong", {}, "Last error: "), it.last_error));
  (it.history || []).slice().reverse()
    .filter((h) => h.to === "Warning" || h.to === "Error")
    .slice(0, 10)
    .forEach((h) => items.push(el("li", {}, when(h.time), " ", h.reason || h.to)));
  return items.length ? el("ul", { id: "errors" }, items) : el("p", { class: "muted", id: "errors" }, "None.");
}

function configurationList(it) {
  const conf = it.configuration || {};
  const keys = Object.keys(conf);
  if (!keys.length) return el("p", { class: "muted" }, "No settings.");
  return el("dl", { class: "kv", id: "configuration" }, keys.map((k) => [
    el("dt", {}, k),
    el("dd", {}, typeof conf[k] === "string" ? conf[k] : JSON.stringify(conf[k]))]));
}

function testResult(r) {
  const ok = r.outcome === "ok";
  return el("div", { class: "result card", id: "test-result", role: "status" },
    el("div", {}, "Outcome: ", el("span", { class: ok ? "outcome-ok" : "outcome-bad", id: "test-outcome" }, r.outcome),
       " · status ", r.status == null ? "—" : String(r.status),
       " · ", r.latency_ms.toFixed(1), " ms"),
    r.error ? el("div", {}, "Why: ", r.error) : null,
    r.response ? el("pre", {}, r.response) : null);
}

function deleteDialog(it) {
  const queued = (it.queue && it.queue.events) || 0;
  const deliver = el("input", { type: "radio", name: "queued", value: "deliver", checked: true, id: "q-deliver" });
  const discard = el("input", { type: "radio", name: "queued", value: "discard", id: "q-discard" });
  const err = el("p", { class: "form-error", role: "alert" });
  const dialog = el("dialog", { id: "delete-dialog", "aria-labelledby": "delete-title" },
    el("h2", { id: "delete-title" }, "Delete " + it.name + "?"),
    el("p", {}, "The integration stops and its configuration is removed. ",
       queued ? queued + " event(s) are queued for it now." : "Nothing is queued for it now."),
    el("fieldset", {}, el("legend", {}, "Queued events"),
       el("label", { for: "q-deliver" }, deliver,
          " Deliver them first: it takes no new events and is removed once its queue is empty"),
       el("label", { for: "q-discard" }, discard, " Discard them now (they are counted and logged)")),
    err,
    el("div", { class: "actions" },
       el("button", { type: "button", class: "danger", id: "confirm-delete", onclick: async () => {
         const mode = discard.checked ? "discard" : "deliver";
         try {
           const r = await api("DELETE", "/api/integrations/" + enc(it.name) + "?queued=" + mode);
           dialog.close();
           notice(r.deleting ? "Deleting " + it.name + ": delivering " + r.remaining + " queued event(s) first."
                             : "Deleted " + it.name + (r.discarded ? "; " + r.discarded + " queued event(s) discarded." : "."));
           location.hash = "#/";
         } catch (e) {
           err.textContent = e.message;
         }
       } }, "Yes, delete"),
       el("button", { type: "button", id: "cancel-delete", onclick: () => dialog.close() }, "Cancel")));
  dialog.addEventListener("close", () => dialog.remove());
  return dialog;
}

async function viewDetail(name, wantTest) {
  const head = el("div", { class: "bar" });
  const sections = el("div", {});
  const resultBox = el("div", {});
  show(head, resultBox, sections);
  let current = null;

  const testButton = el("button", { type: "button", class: "primary", id: "send-test", onclick: async () => {
    testButton.disabled = true;
    fill(resultBox, el("p", { class: "muted" }, "Sending a test event…"));
    try {
      fill(resultBox, testResult(await api("POST", "/api/integrations/" + enc(name) + "/test")));
    } catch (e) {
      fill(resultBox, el("p", { class: "form-error", id: "test-result" }, e.message));
    } finally {
      testButton.disabled = false;
    }
  } }, "Send test event");
  const deleteButton = el("button", { type: "button", class: "danger", id: "delete", onclick: () => {
    const d = deleteDialog(current);
    document.body.append(d);
    d.showModal();
    d.querySelector("#q-deliver").focus();
  } }, "Delete");

  const render = (it) => {
    current = it;
    const writable = canWrite() && !it.deleting;
    fill(head, 
      el("div", {}, el("h1", {}, it.name, " ", statusBadge(it.status)),
         el("div", { class: "muted" }, it.type, " · since ", when(it.since),
            it.inhibited ? el("span", {}, " · inhibited until ", when(it.inhibited_until)) : null,
            it.deleting ? " · being deleted, delivering its queue" : null)),
      el("div", { class: "actions" }, writable ? testButton : null,
         writable && it.source === "api" ? deleteButton : null));
    fill(sections, 
      it.source === "file" ? el("p", { class: "muted" }, "Defined in ", it.defined_at,
                                ": change it there and reload.") : null,
      el("h2", {}, "Counters"), counters(it),
      el("h2", {}, "Status history"), historyTable(it.history),
      el("h2", {}, "Recent errors"), recentErrors(it),
      el("h2", {}, "Settings"),
      el("div", { class: "card" }, el("dl", { class: "kv" },
        el("dt", {}, "Channels"), el("dd", {}, (it.channels || []).map((ch) => el("span", { class: "tag" }, ch))),
        el("dt", {}, "Queue"), el("dd", {}, it.queue.type + ", " + it.queue.bytes + " of " + it.queue.limit_bytes + " bytes")),
        el("h3", {}, "Configuration"), configurationList(it)));
  };
  let last = null;
  const refresh = async () => {
    try {
      const it = await api("GET", "/api/integrations/" + enc(name));
      const now = JSON.stringify(it);
      if (now === last) return;
      last = now;
      keepFocus(() => render(it));
    } catch (e) {
      if (e.status === 404) {
        stopPolling();
        show(el("h1", {}, name), el("p", {}, "There is no integration called " + name + " (any more)."),
             el("a", { href: "#/" }, "Back to the list"));
      }
    }
  };
  await refresh();
  poll(refresh);
  if (wantTest && current && canWrite()) testButton.click();
}

// ---- routing -------------------------------------------------------------------

async function route() {
  stopPolling();
  const hash = location.hash || "#/";
  if (hash === "#/login") return viewLogin();
  if (!state.who) {
    try {
      await whoami();
    } catch (e) {
      if (e.status !== 401) viewLogin(e.message);
      return;
    }
  }
  try {
    if (hash === "#/add") {
      if (!canWrite()) { location.hash = "#/"; return; }
      await viewAdd();
    } else if (hash.startsWith("#/i/")) {
      const [name, query] = hash.slice(4).split("?");
      await viewDetail(decodeURIComponent(name), query === "test=1");
    } else {
      await viewList();
    }
  } catch (e) {
    if (e.status !== 401) show(el("p", { class: "form-error" }, e.message));
  }
  document.getElementById("main").focus({ preventScroll: true });
}

document.getElementById("sign-out").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  state.who = null;
  notice("");
  location.hash = "#/login";
});
window.addEventListener("hashchange", route);
route();
