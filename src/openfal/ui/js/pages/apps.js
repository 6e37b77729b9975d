// Every app and endpoint, searchable by id, path and description.
import { loadCatalog, endpointId } from "../catalog.js";
import { clear, h } from "../dom.js";

function matches(app, endpoint, words) {
  const text = `${app.app_id} ${endpoint.path} ${app.description} ${endpoint.description}`.toLowerCase();
  return words.every((w) => text.includes(w));
}

function endpointLink(app, endpoint) {
  const id = endpointId(app, endpoint);
  const realtime = endpoint.websocket === "realtime";
  const raw = endpoint.websocket === "raw";
  const href = realtime ? `#/realtime/${id}` : raw ? null : `#/app/${id}`;
  const tags = [realtime ? "realtime" : null, raw ? "websocket" : null, endpoint.streaming ? "streaming" : null].filter(Boolean);
  return h("li.endpoint", { dataset: { endpoint: id } },
    href ? h("a", { href }, endpoint.path) : h("span", {}, endpoint.path),
    tags.map((t) => h("span.tag", {}, t)),
    endpoint.description && endpoint.description !== app.description ? h("span.muted", {}, ` ${endpoint.description}`) : null);
}

export async function render(main, params) {
  const catalog = await loadCatalog();
  const search = h("input.search", { type: "search", placeholder: "Search apps and endpoints…", value: params.get("q") || "", autofocus: true });
  const list = h("div.apps");
  function draw() {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    clear(list, catalog.map((app) => {
      const endpoints = app.endpoints.filter((e) => matches(app, e, words));
      if (!endpoints.length) return null;
      return h("article.card.app", { dataset: { app: app.app_id } },
        h("h2", {}, app.app_id),
        app.description ? h("p", {}, app.description) : null,
        h("ul.endpoints", {}, endpoints.map((e) => endpointLink(app, e))));
    }));
    if (!list.childElementCount) list.append(h("p.muted", {}, catalog.length ? "Nothing matches." : "No apps are registered."));
  }
  search.addEventListener("input", draw);
  clear(main, h("h1", {}, "Apps"), search, list);
  draw();
  return null;
}
