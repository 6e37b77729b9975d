// fal.storage.upload with the official @fal-ai/client against openfal (PROTOCOL.md §8.2):
// a small Blob (single PUT) and one over 90 MiB (multipart), each fetched back and hashed.
// Env: OPENFAL_URL (http://127.0.0.1:PORT), BIG_MIB (size of the large upload, MiB).
// Prints one JSON line: {"small": {...}, "big": {...}}.
import { createFalClient } from "@fal-ai/client";
import { createHash, randomFillSync } from "node:crypto";

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

const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");

async function roundTrip(bytes, type) {
  const before = seen.length;
  const url = await fal.storage.upload(new Blob([bytes], { type }));
  const response = await fetch(url);
  const back = new Uint8Array(await response.arrayBuffer());
  return {
    url,
    status: response.status,
    content_type: response.headers.get("content-type"),
    sent: sha256(bytes),
    got: sha256(back),
    size: back.length,
    calls: seen.slice(before),
  };
}

const small = await roundTrip(new TextEncoder().encode("hello from @fal-ai/client"), "text/plain");
const big = new Uint8Array(Number(process.env.BIG_MIB ?? 95) * 1024 * 1024 + 4321);
for (let offset = 0; offset < big.length; offset += 65536) {
  randomFillSync(big, offset, Math.min(65536, big.length - offset));
}
const large = await roundTrip(big, "application/octet-stream");
console.log(JSON.stringify({ small, big: large }));
