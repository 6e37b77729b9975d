// A Blob in the input of fal.subscribe is uploaded by the official @fal-ai/client and
// replaced by its URL; the app (tests/fixtures/apps/images.py) reads it from storage.
// Env: OPENFAL_URL, PNG_B64 (an image). Prints {"data": <result>, "uploads": [...calls]}.
import { createFalClient } from "@fal-ai/client";

const base = process.env.OPENFAL_URL;
const rewrite = (url) =>
  url
    .replace(/^https:\/\/rest\.fal\.ai/, `${base}/rest`)
    .replace(/^https:\/\/queue\.fal\.run/, `${base}/queue`)
    .replace(/^https:\/\/fal\.run/, base);

const seen = [];
const fal = createFalClient({
  credentials: "local-dev-key",
  fetch: (input, init) => {
    const url = rewrite(typeof input === "string" ? input : input.url ?? String(input));
    seen.push(`${init?.method ?? "GET"} ${new URL(url).pathname}`);
    return fetch(url, init);
  },
});

const png = Buffer.from(process.env.PNG_B64, "base64");
const result = await fal.subscribe("test/images/inspect", {
  input: { image_url: new Blob([png], { type: "image/png" }) },
  pollInterval: 100,
});
console.log(JSON.stringify({ data: result.data, uploads: seen.filter((c) => c.includes("/storage/")) }));
