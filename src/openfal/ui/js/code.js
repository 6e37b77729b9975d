// The same call for fal_client (Python), @fal-ai/client (JS) and curl.
import { h } from "./dom.js";

const py = (v) => JSON.stringify(v, null, 4)
  .replace(/\btrue\b/g, "True").replace(/\bfalse\b/g, "False").replace(/\bnull\b/g, "None");

export function snippets(endpointId, input, base, needsKey) {
  const body = JSON.stringify(input);
  const key = needsKey ? "$FAL_KEY" : "any";
  return {
    Python: `${needsKey ? "import os\n" : ""}import fal_client                      # pip install fal-client
from openfal.compat import use_server  # points the official client at this server

use_server("${base}"${needsKey ? ", key=os.environ[\"FAL_KEY\"]" : ""})
result = fal_client.subscribe(
    "${endpointId}",
    arguments=${py(input).replace(/\n/g, "\n    ")},
    with_logs=True,
    on_queue_update=lambda update: print(update),
)
print(result)`,
    JavaScript: `import { createFalClient } from "@fal-ai/client";  // npm install @fal-ai/client

const fal = createFalClient({
  proxyUrl: { url: "${base}/api/fal/proxy", when: "always" },${needsKey ? "\n  credentials: process.env.FAL_KEY," : ""}
});
const result = await fal.subscribe("${endpointId}", {
  input: ${JSON.stringify(input, null, 2).replace(/\n/g, "\n  ")},
  logs: true,
  onQueueUpdate: (update) => console.log(update.status),
});
console.log(result.data);`,
    curl: `curl -s -X POST ${base}/queue/${endpointId} \\
  -H "authorization: Key ${key}" -H "content-type: application/json" \\
  -d '${body.replace(/'/g, "'\\''")}'
# then GET the status_url (append /stream for server-sent events) and the response_url`,
  };
}

export function codeTabs(endpointId, input, base, needsKey) {
  const all = snippets(endpointId, input, base, needsKey);
  const pre = h("pre.code.snippet");
  const tabs = h("div.tabs.small");
  const show = (name) => {
    pre.textContent = all[name];
    for (const b of tabs.children) b.classList.toggle("active", b.textContent === name);
  };
  for (const name of Object.keys(all)) tabs.append(h("button", { type: "button", onclick: () => show(name) }, name));
  show("Python");
  return h("div.code-tabs", {}, tabs, pre);
}
