// The official @fal-ai/client's fal.realtime.connect against an openfal server.
// Env: OPENFAL_URL (http://127.0.0.1:PORT), APP (owner/alias). Prints one JSON line:
// {"results": [...], "errors": [...], "tokenUrls": [...], "socketUrls": [...]}.
import { createFalClient } from "@fal-ai/client";
import WebSocket from "ws";

const base = process.env.OPENFAL_URL;
const app = process.env.APP;
const socketUrls = [];
const tokenUrls = [];

// Node 20 has no global WebSocket, and the client hard-codes wss://fal.run/ (PROTOCOL.md §12.2).
globalThis.WebSocket = class extends WebSocket {
  constructor(url, protocols) {
    const local = url.replace("wss://fal.run", base.replace(/^http/, "ws"));
    socketUrls.push(local.split("?")[0]);
    super(local, protocols);
  }
};

const fal = createFalClient({
  credentials: "local-dev-key",
  requestMiddleware: async (request) => {
    const url = request.url.replace("https://rest.fal.ai", `${base}/rest`);
    tokenUrls.push(url);
    return { ...request, url };
  },
});

const results = [];
const errors = [];
let wake = () => {};
const next = () => new Promise((resolve) => (wake = resolve));

const connection = fal.realtime.connect(app, {
  throttleInterval: 0,
  onResult: (result) => {
    results.push(result);
    wake();
  },
  onError: (error) => {
    errors.push({ status: error.status, message: error.message });
    wake();
  },
});

const timeout = setTimeout(() => {
  console.log(JSON.stringify({ results, errors, timedOut: true }));
  process.exit(1);
}, 60000);

for (let n = 0; n < 5; n++) {
  const arrived = next();
  connection.send({ prompt: `js${n}`, n });
  await arrived;
}
const refused = next();
connection.send({ n: "not a number" });
await refused;
const after = next();
connection.send({ prompt: "after the error", n: 99 });
await after;

connection.close();
clearTimeout(timeout);
console.log(JSON.stringify({ results, errors, tokenUrls, socketUrls }));
process.exit(0);
