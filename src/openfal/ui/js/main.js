// The playground's router: #/ apps, #/app/<endpoint id>, #/requests[/<id>], #/runners,
// #/realtime/<endpoint id>. Each page module exports render(main, ...args).
import { api, getKey, onUnauthorized, setKey } from "./api.js";
import { clear, h } from "./dom.js";
import * as apps from "./pages/apps.js";
import * as endpoint from "./pages/endpoint.js";
import * as requests from "./pages/requests.js";
import * as runners from "./pages/runners.js";
import * as realtime from "./pages/realtime.js";

const main = document.getElementById("main");
const dialog = document.getElementById("key-dialog");
let current = null; // the page's cleanup function

function route() {
  const hash = decodeURIComponent(location.hash.replace(/^#\/?/, ""));
  const [path, query = ""] = hash.split("?");
  const params = new URLSearchParams(query);
  const [head, ...rest] = path.split("/");
  const tail = rest.join("/");
  if (head === "app" && tail) return ["apps", endpoint.render, tail, params];
  if (head === "realtime" && tail) return ["apps", realtime.render, tail, params];
  if (head === "requests") return ["requests", tail ? requests.renderOne : requests.render, tail || params, params];
  if (head === "runners") return ["runners", runners.render];
  return ["apps", apps.render, params];
}

async function show() {
  if (current) current();
  current = null;
  const [nav, render, ...args] = route();
  for (const a of document.querySelectorAll("[data-nav]")) a.classList.toggle("active", a.dataset.nav === nav);
  clear(main, h("p.muted", {}, "Loading…"));
  try {
    current = (await render(main, ...args)) || null;
  } catch (e) {
    if (e.status !== 401) clear(main, h("p.error", {}, e.message));
  }
}

async function whoami() {
  const who = document.getElementById("who");
  try {
    const me = await api("rest/whoami");
    who.textContent = me.user ? `${me.user} (${me.scope})` : me.admin ? "open server (no keys)" : "anonymous";
    who.className = "who";
  } catch {
    who.textContent = "no key";
    who.className = "who warn";
  }
}

function askForKey(why) {
  document.getElementById("key-why").textContent = why;
  document.getElementById("key-input").value = getKey();
  if (!dialog.open) dialog.showModal();
}

onUnauthorized(() => {
  clear(main, h("div.card.locked", {}, h("h2", {}, "This server needs an API key"),
    h("p", {}, "Enter one (", h("code", {}, "openfal keys create"), " makes one). It stays in this browser only."),
    h("button", { type: "button", onclick: () => askForKey("Enter your API key.") }, "Enter a key")));
  askForKey(getKey() ? "That key was refused (unknown or revoked). Enter another." : "This server needs an API key. It is kept in this browser only (localStorage) and sent with each call.");
});

dialog.addEventListener("close", () => {
  if (dialog.returnValue === "save") setKey(document.getElementById("key-input").value);
  else if (dialog.returnValue === "forget") setKey("");
  else return;
  whoami();
  show();
});
document.getElementById("key-button").addEventListener("click", () => askForKey("The key is kept in this browser only (localStorage) and sent with each call."));
window.addEventListener("hashchange", show);
whoami();
show();
