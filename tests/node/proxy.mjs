// The official @fal-ai/client, unmodified, talking to openfal only through /api/fal/proxy
// (PROTOCOL.md §11, §12.2 option C). Prints one JSON object with what it saw.
// env: OPENFAL_URL (the server), OPENFAL_STREAM_APP (an app with a /stream endpoint, or unset)
import { ApiError, createFalClient } from "@fal-ai/client";

const base = process.env.OPENFAL_URL;
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

if (process.env.OPENFAL_STREAM_APP) {
  const stream = await fal.stream(process.env.OPENFAL_STREAM_APP, { input: JSON.parse(process.env.OPENFAL_STREAM_INPUT ?? "{}") });
  const events = [];
  for await (const event of stream) events.push(event);
  out.stream = { events, done: await stream.done() };
}

out.fetched = fetched;
console.log(JSON.stringify(out));
