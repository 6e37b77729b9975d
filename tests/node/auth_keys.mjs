// The official @fal-ai/client with API keys: a valid key, an invalid one (401), and user
// isolation (another user's request is 404). Prints one JSON object with what it saw.
// env: OPENFAL_URL (the server), ALICE and BOB ("<id>:<secret>" keys of two users)
import { ApiError, createFalClient } from "@fal-ai/client";

const base = process.env.OPENFAL_URL;
const rewrite = (url) =>
  url
    .replace("https://queue.fal.run", `${base}/queue`)
    .replace("https://rest.fal.ai", `${base}/rest`)
    .replace("https://fal.run", base);
const client = (credentials) =>
  createFalClient({ credentials, requestMiddleware: async (r) => ({ ...r, url: rewrite(r.url) }) });
const alice = client(process.env.ALICE);
const bob = client(process.env.BOB);
const nobody = client("00000000-0000-4000-8000-000000000000:not-a-secret");

async function failure(call) {
  try {
    await call();
    return null;
  } catch (e) {
    return e instanceof ApiError ? { status: e.status, body: e.body, requestId: e.requestId } : String(e);
  }
}

const out = {};
out.run = (await alice.run("openfal/echo", { input: { message: "hi" } })).data;
out.invalid = await failure(() => nobody.run("openfal/echo", { input: { message: "hi" } }));

const done = await alice.subscribe("openfal/echo", { input: { message: "mine" }, pollInterval: 100 });
out.aliceResult = done.data;
out.requestId = done.requestId;
out.bobStatus = await failure(() => bob.queue.status("openfal/echo", { requestId: done.requestId }));
out.bobResult = await failure(() => bob.queue.result("openfal/echo", { requestId: done.requestId }));
out.bobCancel = await failure(() => bob.queue.cancel("openfal/echo", { requestId: done.requestId }));
console.log(JSON.stringify(out));
