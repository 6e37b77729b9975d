// Calls to the openfal API with the key kept in this browser (localStorage) only.
const KEY = "openfal.key";
const listeners = new Set();

export const getKey = () => localStorage.getItem(KEY) || "";
export function setKey(key) {
  if (key) localStorage.setItem(KEY, key.trim());
  else localStorage.removeItem(KEY);
}
// called with the error when the server answers 401 (no key, or a bad one)
export const onUnauthorized = (fn) => listeners.add(fn);

export class HttpError extends Error {
  constructor(status, body) {
    const detail = body && typeof body === "object" ? body.detail : body;
    super(`HTTP ${status}: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
    this.status = status;
    this.body = body;
  }
}

export const url = (path) => new URL(path.replace(/^\//, ""), document.baseURI).toString();

export function headers(extra = {}) {
  const out = { ...extra };
  const key = getKey();
  if (key) out.authorization = `Key ${key}`;
  return out;
}

async function parse(response) {
  const text = await response.text();
  try { return text ? JSON.parse(text) : null; } catch { return text; }
}

export async function api(path, { method = "GET", body, signal } = {}) {
  const init = { method, signal, headers: headers(body === undefined ? {} : { "content-type": "application/json" }) };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(path.startsWith("http") ? path : url(path), init);
  const data = await parse(response);
  if (response.status === 401) listeners.forEach((fn) => fn(data));
  if (!response.ok) throw new HttpError(response.status, data);
  return data;
}

// Server-sent events over fetch (EventSource cannot send the key header).
export async function events(target, onEvent, signal) {
  const response = await fetch(target, { headers: headers({ accept: "text/event-stream" }), signal });
  if (!response.ok) throw new HttpError(response.status, await parse(response));
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
      if (data) onEvent(JSON.parse(data));
    }
  }
}

// Upload through the storage API: a signed URL, then a bare PUT; returns the file's URL.
export async function upload(file) {
  const type = file.type || "application/octet-stream";
  const grant = await api("rest/storage/upload/initiate", {
    method: "POST", body: { file_name: file.name || "upload.bin", content_type: type },
  });
  const response = await fetch(grant.upload_url, { method: "PUT", headers: { "content-type": type }, body: file });
  if (!response.ok) throw new HttpError(response.status, await parse(response));
  return grant.file_url;
}
