// The official @fal-ai/client, unmodified, talking to openfal only through /api/fal/proxy
// (PROTOCOL.md §11, §12.2 option C). Prints one JSON object with what it saw.
// env: OPENFAL_URL (the server, serving the fixture apps steps, sleeper, streamer, realtime)
import { ApiError, createFalClient } from "@fal-ai/client";
import WebSocket from "ws";

const base = process.env.OPENFAL_URL;

// realtime is never proxied: the client opens wss://fal.run/... itself (README "Clients")
const sockets = [];
globalThis.WebSocket = class extends WebSocket {
  constructor(url, protocols) {
    const local = String(url).replace("wss://fal.run/", `${base.replace(/^http/, "ws")}/`);
    sockets.push(local.split("?")[0]);
    super(local, protocols);
  }
};
const fetched = [];
const fal = createFalClient({
  credentials: "local-dev-key",
  proxyUrl: { url: `${base}/api/fal/proxy`, when: "always" },
  fetch: (url, init) => {
    const headers = new Headers(init?.headers);
    fetched.push({ url: String(url), method: init?.method ?? "GET", target: headers.get("x-fal-target-url") });
    return fetch(url, init);
  },
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitForStatus(app, requestId, wanted) {
  for (let i = 0; i < 600; i++) {
    const status = await fal.queue.status(app, { requestId, logs: true });
    if (status.status === wanted) return status;
    await sleep(100);
  }
  throw new Error(`${requestId} never reached ${wanted}`);
}

const out = {};

const ran = await fal.run("test/steps", { input: { steps: 1, delay: 0, tag: "run" } });
out.run = { data: ran.data, requestId: ran.requestId };

for (const mode of ["polling", "streaming"]) {
  const updates = [];
  const sub = await fal.subscribe("test/steps", {
    input: { steps: 3, delay: 0.05, tag: mode },
    logs: true,
    mode,
    pollInterval: 100,
    onQueueUpdate: (u) => updates.push({ status: u.status, logs: (u.logs ?? []).map((l) => l.message) }),
  });
  out[`subscribe_${mode}`] = { data: sub.data, requestId: sub.requestId, updates };
}

const submitted = await fal.queue.submit("test/steps", { input: { steps: 2, delay: 0, tag: "queue" } });
const done = await waitForStatus("test/steps", submitted.request_id, "COMPLETED");
const result = await fal.queue.result("test/steps", { requestId: submitted.request_id });
out.queue = {
  requestId: submitted.request_id,
  status: done.status,
  logs: done.logs.map((l) => l.message),
  metrics: done.metrics,
  result: result.data,
  resultRequestId: result.requestId,
};

const sleeper = await fal.queue.submit("test/sleeper/progress", { input: { seconds: 60 } });
await waitForStatus("test/sleeper/progress", sleeper.request_id, "IN_PROGRESS");
await fal.queue.cancel("test/sleeper/progress", { requestId: sleeper.request_id });
const cancelled = await waitForStatus("test/sleeper/progress", sleeper.request_id, "COMPLETED");
let resultError = null;
try {
  await fal.queue.result("test/sleeper/progress", { requestId: sleeper.request_id });
} catch (e) {
  resultError = e instanceof ApiError ? { status: e.status, requestId: e.requestId } : String(e);
}
out.cancel = { status: cancelled.status, error_type: cancelled.error_type, resultError };

try {
  await fal.queue.submit("test/steps", { input: { steps: 0 } });
  out.validation = null;
} catch (e) {
  out.validation = { status: e.status, fields: (e.fieldErrors ?? []).map((f) => f.loc) };
}

const blob = new Blob(["hello from @fal-ai/client"], { type: "text/plain" });
const url = await fal.storage.upload(blob);
const downloaded = await fetch(url);
out.upload = { url, status: downloaded.status, text: await downloaded.text() };

const stream = await fal.stream("test/streamer", { input: { count: 3, prompt: "js" } });
const events = [];
for await (const event of stream) events.push(event);
const last = await stream.done();
out.stream = { texts: events.map((e) => e.text), partial: events.map((e) => e.partial), last: last.text };

const live = await new Promise((resolve, reject) => {
  const connection = fal.realtime.connect("test/live", {
    throttleInterval: 0,
    onResult: (result) => {
      connection.close();
      resolve(result);
    },
    onError: reject,
  });
  connection.send({ prompt: "through the shim", n: 5 });
});
out.realtime = { echo: live.echo, n: live.n, sockets };

out.fetched = fetched;
console.log(JSON.stringify(out));
