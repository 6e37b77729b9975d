// A realtime endpoint: connect over its websocket, send inputs from the generated form
// as JSON frames, and show every frame that comes back as it comes.
import { api, getKey } from "../api.js";
import { findEndpoint, loadCatalog } from "../catalog.js";
import { clear, h, json } from "../dom.js";
import { buildForm } from "../form.js";
import { decode } from "../msgpack.js";
import { renderResult } from "../render.js";

// bytes in a frame become blob URLs, so images show as images
function withBlobs(value) {
  if (value instanceof Uint8Array) return URL.createObjectURL(new Blob([value]));
  if (Array.isArray(value)) return value.map(withBlobs);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withBlobs(v)]));
  return value;
}

async function socketUrl(app, path) {
  const target = new URL(`${app.app_id}${path}`, document.baseURI);
  target.protocol = target.protocol === "https:" ? "wss:" : "ws:";
  if (getKey()) {  // a browser websocket cannot send the key: a short-lived token instead
    const token = await api("rest/tokens/", { method: "POST", body: { allowed_apps: [app.app_id], token_expiration: 300 } });
    target.searchParams.set("fal_jwt_token", token);
  }
  return target.toString();
}

export async function render(main, id) {
  const found = findEndpoint(await loadCatalog(), id);
  if (!found) { clear(main, h("p.error", {}, `No realtime endpoint ${id}.`)); return null; }
  const { app, endpoint } = found;
  const form = buildForm(endpoint.input_schema);
  const state = h("span.badge", {}, "CLOSED");
  const frames = h("div.frames");
  let socket = null;
  let count = 0;
  const connect = h("button", { type: "button" }, "Connect");
  const send = h("button", { type: "submit", disabled: true }, "Send");

  function show(data) {
    count += 1;
    let value;
    try { value = typeof data === "string" ? JSON.parse(data) : decode(data); } catch (e) { value = { undecodable: String(e) }; }
    const item = h("div.frame", { dataset: { n: count } }, h("span.muted", {}, `#${count} ${new Date().toLocaleTimeString()}`),
      value && value.type === "x-fal-error" ? h("pre.error", {}, json(value)) : renderResult(withBlobs(value)));
    frames.prepend(item);
  }
  connect.addEventListener("click", async () => {
    if (socket) { socket.close(); return; }
    state.textContent = "CONNECTING";
    socket = new WebSocket(await socketUrl(app, endpoint.path));
    socket.binaryType = "arraybuffer";
    socket.onopen = () => { state.textContent = "OPEN"; state.className = "badge completed"; send.disabled = false; connect.textContent = "Disconnect"; };
    socket.onmessage = (e) => show(e.data);
    socket.onclose = (e) => {
      state.textContent = `CLOSED ${e.code}${e.reason ? `: ${e.reason}` : ""}`;
      state.className = "badge";
      send.disabled = true;
      connect.textContent = "Connect";
      socket = null;
    };
  });
  const formBox = h("form", { onsubmit: (e) => { e.preventDefault(); socket?.send(JSON.stringify(form.get())); } },
    form.el, h("div.row", {}, send));
  clear(main,
    h("div.crumbs", {}, h("a", { href: "#/" }, "Apps"), " / ", app.app_id),
    h("h1", {}, id, " ", h("span.tag", {}, "realtime")),
    endpoint.description ? h("p.lead", {}, endpoint.description) : null,
    h("div.row", {}, connect, state),
    h("div.split", {}, h("section.card", {}, formBox), h("section.card", {}, h("h2", {}, "Frames"), frames)));
  return () => socket?.close();
}
