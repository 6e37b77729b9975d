// Live runners per app with their state, and each app's queue; refreshed every 2 s.
import { api } from "../api.js";
import { clear, h, seconds } from "../dom.js";

export async function render(main) {
  const body = h("div");
  clear(main, h("h1", {}, "Runners & queues"), body);
  async function draw() {
    const [runners, queues] = await Promise.all([api("rest/runners"), api("rest/queues")]);
    clear(body,
      h("h2", {}, "Queues"),
      h("table.grid.queues", {}, h("thead", {}, h("tr", {}, ["app", "waiting", "running"].map((c) => h("th", {}, c)))),
        h("tbody", {}, queues.map((q) => h("tr", { dataset: { app: q.app_id } },
          h("td", {}, q.app_id), h("td.num", {}, q.queue_depth), h("td.num", {}, q.in_progress))))),
      h("h2", {}, "Runners"),
      runners.length ? h("table.grid.runners", {},
        h("thead", {}, h("tr", {}, ["app", "runner", "state", "in flight", "host", "worker", "GPUs", "uptime"].map((c) => h("th", {}, c)))),
        h("tbody", {}, runners.map((r) => h("tr", { dataset: { app: r.app_id } },
          h("td", {}, r.app_id), h("td.mono", {}, r.runner_id), h("td", {}, h(`span.badge.${r.state.toLowerCase()}`, {}, r.state)),
          h("td.num", {}, `${r.in_flight}/${r.max_multiplexing}`), h("td", {}, r.host), h("td.mono", {}, r.worker_id),
          h("td", {}, r.gpus || "–"), h("td.num", {}, seconds(r.uptime))))))
        : h("p.muted", {}, "No runner is up (they start with the first request and stop after keep_alive)."));
  }
  await draw();
  const timer = setInterval(() => draw().catch(() => null), 2000);
  return () => clearInterval(timer);
}
