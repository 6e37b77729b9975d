// Request history (filters: app, status, time; pages by cursor) and one request in full.
import { api } from "../api.js";
import { clear, h, json, seconds, time } from "../dom.js";
import { renderResult } from "../render.js";

const SINCE = [["", "any time"], ["15m", "last 15 minutes"], ["1h", "last hour"], ["24h", "last day"], ["7d", "last week"]];

export async function render(main, params) {
  const appInput = h("input", { name: "app_id", placeholder: "app id", value: params.get("app_id") || "" });
  const status = h("select", { name: "status" }, ["", "IN_QUEUE", "IN_PROGRESS", "COMPLETED"].map((s) => h("option", { value: s }, s || "any status")));
  status.value = params.get("status") || "";
  const since = h("select", { name: "since" }, SINCE.map(([v, l]) => h("option", { value: v }, l)));
  since.value = params.get("since") || "";
  const rows = h("tbody");
  const more = h("button.ghost", { type: "button", hidden: true }, "Older requests");
  let cursor = null;

  async function load(reset) {
    const q = new URLSearchParams({ limit: "50" });
    if (appInput.value) q.set("app_id", appInput.value.trim());
    if (status.value) q.set("status", status.value);
    if (since.value) q.set("since", since.value);
    if (!reset && cursor) q.set("cursor", cursor);
    const page = await api(`rest/requests?${q}`);
    if (reset) rows.replaceChildren();
    for (const item of page.items) rows.append(row(item));
    if (!rows.childElementCount) rows.append(h("tr", {}, h("td.muted", { colSpan: 8 }, "No requests.")));
    cursor = page.next_cursor;
    more.hidden = !cursor;
  }
  more.addEventListener("click", () => load(false));
  const filters = h("form.filters", { onsubmit: (e) => { e.preventDefault(); load(true); } },
    appInput, status, since, h("button", { type: "submit" }, "Filter"));
  for (const el of [status, since]) el.addEventListener("change", () => load(true));
  clear(main, h("h1", {}, "Requests"), filters,
    h("table.grid.history", {}, h("thead", {}, h("tr", {},
      ["request", "endpoint", "mode", "status", "created", "queued", "ran", "owner"].map((c) => h("th", {}, c)))), rows), more);
  await load(true);
  return null;
}

function outcome(item) {
  if (item.status !== "COMPLETED") return item.status;
  return item.error_type || (item.status_code >= 400 ? `HTTP ${item.status_code}` : "OK");
}

function row(item) {
  const bad = item.error_type || item.status_code >= 400;
  return h("tr", { dataset: { request: item.request_id } },
    h("td.mono", {}, h("a", { href: `#/requests/${item.request_id}` }, item.request_id)),
    h("td", {}, item.endpoint), h("td", {}, item.mode),
    h("td", {}, h(`span.badge.${bad ? "error" : item.status.toLowerCase()}`, {}, outcome(item))),
    h("td", {}, time(item.created_at)), h("td.num", {}, seconds(item.queue_seconds)),
    h("td.num", {}, seconds(item.run_seconds)), h("td", {}, item.owner || "–"));
}

function section(title, ...content) {
  return h("section.card", {}, h("h2", {}, title), ...content);
}

export async function renderOne(main, id) {
  const r = await api(`rest/requests/${id}`);
  const t = r.timings;
  const bad = r.error_type || r.status_code >= 400;
  clear(main,
    h("div.crumbs", {}, h("a", { href: "#/requests" }, "Requests"), " / ", r.request_id),
    h("h1", {}, r.endpoint, " ", h(`span.badge.${bad ? "error" : r.status.toLowerCase()}`, {}, outcome(r))),
    h("div.row", {},
      h("a.button", { href: `#/app/${r.endpoint}?rerun=${r.request_id}` }, "Re-run in the form"),
      h("span.muted", {}, `${r.mode} · owner ${r.owner || "–"} · attempts ${r.attempts.count}`)),
    r.error ? section("Error", h("pre.error", {}, `${r.error_type || ""}: ${r.error}`)) : null,
    h("div.split", {},
      section("Input", h("pre.code", {}, json(r.input))),
      section("Output", r.output === null ? h("p.muted", {}, "Not finished yet.") : renderResult(r.output))),
    section("Logs", r.logs.length
      ? h("pre.logs", {}, r.logs.map((l) => `${l.timestamp} ${l.level.padEnd(5)} ${l.message}\n`))
      : h("p.muted", {}, "No logs.")),
    section("Timings", h("table.grid.kv", {}, h("tbody", {}, [
      ["created", time(t.created_at)], ["started", time(t.started_at)], ["completed", time(t.completed_at)],
      ["waited in queue", seconds(t.queue_seconds)], ["ran", seconds(t.run_seconds)], ["total", seconds(t.total_seconds)],
      ["worker", r.attempts.worker_id || "–"], ["status code", r.status_code ?? "–"],
      ...Object.entries(t.metrics || {}).map(([k, v]) => [k, typeof v === "number" ? seconds(v) : json(v)]),
    ].map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v)))))),
    section("Webhook", r.webhook ? webhook(r.webhook) : h("p.muted", {}, "No webhook was asked for.")),
    r.events.length ? section("Streamed events", h("pre.code", {}, json(r.events))) : null);
  return null;
}

function webhook(w) {
  return h("div", {},
    h("p", {}, h("span.mono", {}, w.url), " ", h("span.badge", {}, w.state), w.error ? h("span.error", {}, ` ${w.error}`) : null),
    w.attempts.length ? h("table.grid", {}, h("thead", {}, h("tr", {}, ["at", "status", "error", "took"].map((c) => h("th", {}, c)))),
      h("tbody", {}, w.attempts.map((a) => h("tr", {},
        h("td", {}, time(new Date(a.at * 1000).toISOString())), h("td", {}, a.status_code ?? "–"),
        h("td", {}, a.error || ""), h("td.num", {}, seconds(a.duration))))))
      : h("p.muted", {}, "No delivery tried yet."));
}
