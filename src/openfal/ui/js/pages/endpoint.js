// One endpoint: the generated form (or its code), Run through the queue with live status,
// logs, progress and Cancel, then the rendered result.
import { api, events, getKey, headers, HttpError } from "../api.js";
import { findEndpoint, loadCatalog } from "../catalog.js";
import { codeTabs } from "../code.js";
import { clear, h, json } from "../dom.js";
import { buildForm } from "../form.js";
import { renderResult } from "../render.js";

const base = () => new URL(".", document.baseURI).toString().replace(/\/$/, "");

export async function render(main, id, params) {
  const catalog = await loadCatalog();
  const found = findEndpoint(catalog, id);
  if (!found) {
    clear(main, h("p.error", {}, `No endpoint ${id}. `, h("a", { href: "#/" }, "All apps")));
    return null;
  }
  const { app, endpoint } = found;
  const form = buildForm(endpoint.input_schema);
  const rerun = params.get("rerun");
  if (rerun) form.set((await api(`rest/requests/${rerun}`)).input);

  const codeBox = h("div.code-box", { hidden: true });
  const formBox = h("form.endpoint-form", { onsubmit: (e) => { e.preventDefault(); run(); } },
    form.el, h("div.row", {}, h("button", { type: "submit", id: "run" }, "Run")));
  const tabs = h("div.tabs", {},
    h("button.active", { type: "button", onclick: (e) => tab(e, false) }, "Form"),
    h("button", { type: "button", onclick: (e) => tab(e, true) }, "Code"));
  function tab(e, code) {
    for (const b of tabs.children) b.classList.toggle("active", b === e.target);
    formBox.hidden = code;
    codeBox.hidden = !code;
    if (code) clear(codeBox, codeTabs(id, safeInput(), base(), Boolean(getKey())));
  }
  const safeInput = () => { try { return form.get(); } catch { return {}; } };

  const output = h("section.card.output", {}, h("p.muted", {}, "Run the endpoint to see its result here."));
  clear(main,
    h("div.crumbs", {}, h("a", { href: "#/" }, "Apps"), " / ", app.app_id),
    h("h1", {}, id),
    endpoint.description ? h("p.lead", {}, endpoint.description) : null,
    h("div.split", {}, h("section.card", {}, tabs, formBox, codeBox), output));

  let controller = null;
  async function run() {
    let input;
    try { input = form.get(); } catch (e) { clear(output, h("p.error", {}, `Invalid JSON: ${e.message}`)); return; }
    controller?.abort();
    controller = new AbortController();
    try {
      await follow(output, id, input, controller.signal);
    } catch (e) {
      if (e.name !== "AbortError") output.append(h("p.error", {}, `Lost the request: ${e.message}`));
    }
  }
  return () => controller?.abort();
}

async function follow(output, id, input, signal) {
  const status = h("span.badge", {}, "SUBMITTING");
  const position = h("span.muted");
  const bar = h("progress", { max: 1, value: 0, hidden: true });
  const logs = h("pre.logs");
  const result = h("div");
  const cancel = h("button.danger", { type: "button", disabled: true }, "Cancel");
  const link = h("a.muted");
  clear(output, h("div.row.status", {}, status, position, bar, cancel, link), h("h3", {}, "Logs"), logs, result);
  let sub;
  try {
    sub = await api(`queue/${id}`, { method: "POST", body: input, signal });
  } catch (e) {
    status.textContent = "REFUSED";
    status.className = "badge error";
    result.append(h("pre.error", {}, e instanceof HttpError ? json(e.body) : e.message));
    return;
  }
  link.href = `#/requests/${sub.request_id}`;
  link.textContent = sub.request_id;
  cancel.disabled = false;
  cancel.onclick = async () => {
    cancel.disabled = true;
    await api(sub.cancel_url, { method: "PUT" }).catch(() => null);
  };
  let last = null;
  await events(`${sub.status_url}/stream?logs=1`, (update) => {
    last = update;
    status.textContent = update.status;
    status.className = `badge ${update.status.toLowerCase()}`;
    position.textContent = update.status === "IN_QUEUE" ? `position ${update.queue_position}` : "";
    if (update.progress && update.progress.total) {
      bar.hidden = false;
      bar.max = update.progress.total;
      bar.value = update.progress.step;
    }
    for (const line of update.logs || []) logs.append(`${line.timestamp || ""} ${line.message}\n`);
  }, signal);
  cancel.disabled = true;
  if (last?.error_type || last?.error) {
    status.className = "badge error";
    status.textContent = last.error_type || "ERROR";
  }
  const response = await fetch(sub.response_url, { headers: headers(), signal });
  const body = await response.json().catch(() => null);
  if (!response.ok) result.append(h("div.error", {}, h("h3", {}, `Error ${response.status}`), h("pre", {}, json(body))));
  else { bar.value = bar.max; result.append(h("h3", {}, "Result"), renderResult(body)); }
}
