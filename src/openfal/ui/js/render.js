// A result rendered for what it is: images as a gallery, audio and video with players,
// text as text, and always the raw JSON.
import { h, json } from "./dom.js";

const IMAGE = /\.(png|jpe?g|webp|gif|bmp)(\?|$)/i;
const AUDIO = /\.(wav|mp3|ogg|flac|m4a)(\?|$)/i;
const VIDEO = /\.(mp4|webm|mov)(\?|$)/i;

function kindOf(file) {
  const type = file.content_type || "";
  const u = file.url;
  if (type.startsWith("image/") || u.startsWith("data:image/") || IMAGE.test(u)) return "image";
  if (type.startsWith("audio/") || u.startsWith("data:audio/") || AUDIO.test(u)) return "audio";
  if (type.startsWith("video/") || u.startsWith("data:video/") || VIDEO.test(u)) return "video";
  return "file";
}

// every {url: ...} object in the output, wherever it is
export function files(value, found = []) {
  if (Array.isArray(value)) value.forEach((v) => files(v, found));
  else if (value && typeof value === "object") {
    if (typeof value.url === "string") found.push(value);
    else Object.values(value).forEach((v) => files(v, found));
  }
  return found;
}

function texts(value) {
  if (!value || typeof value !== "object") return typeof value === "string" ? [["output", value]] : [];
  return Object.entries(value).filter(([k, v]) => typeof v === "string" && k !== "url" && !v.startsWith("data:"));
}

export function renderResult(output) {
  const found = files(output).map((f) => ({ ...f, kind: kindOf(f) }));
  const images = found.filter((f) => f.kind === "image");
  const media = found.filter((f) => f.kind === "audio" || f.kind === "video");
  const other = found.filter((f) => f.kind === "file");
  return h("div.result", {},
    images.length ? h("div.gallery", {}, images.map((f) => h("a", { href: f.url, target: "_blank" },
      h("img", { src: f.url, alt: f.file_name || "image", title: f.width ? `${f.width}×${f.height}` : "" })))) : null,
    media.map((f) => h(f.kind, { src: f.url, controls: true, preload: "metadata" })),
    other.map((f) => h("a.file", { href: f.url, target: "_blank" }, f.file_name || f.url)),
    texts(output).map(([k, v]) => h("div.text", {}, h("span.name", {}, k), h("pre", {}, v))),
    h("details.raw", { open: !found.length && !texts(output).length }, h("summary", {}, "Raw JSON"), h("pre.code", {}, json(output))));
}
