// What a function did: live logs (the SSE follow), metrics charts and its jobs.

import {call, events, fn} from "./api.js";
import {h, fill, badge, when, ms, errorBox, busy, select, field} from "./dom.js";
import {lineChart, percentile} from "./chart.js";
import {jobView, logLines} from "./invoke.js";

const MAX_LINES = 1000;

export async function logsTab(body, view, f) {
  const panel = h("div", {class: "logs", id: "live-logs", "aria-live": "polite"});
  const state = h("span", {class: "muted", id: "follow-state"}, "connecting…");
  const out = h("div");
  let follow = null;
  const toggle = h("button", {type: "button", id: "follow"}, "Pause");
  const start = async () => {
    follow = new AbortController();
    const stop = () => follow?.abort();
    view.signal.addEventListener("abort", stop, {once: true});
    toggle.textContent = "Pause";
    state.textContent = "following";
    try {
      for await (const line of events(`${fn(f.name)}/logs`, {query: {follow: "true", limit: 200},
                                                             signal: follow.signal})) {
        const pinned = panel.scrollTop + panel.clientHeight >= panel.scrollHeight - 4;
        panel.append(h("div", {class: `line ${line.stream}`},
          h("span", {class: "ts"}, new Date(line.timestamp).toLocaleTimeString()),
          h("span", {class: "job"}, line.job_id.slice(0, 8)),
          h("span", {class: "msg"}, line.message)));
        while (panel.childElementCount > MAX_LINES) panel.firstElementChild.remove();
        if (pinned) panel.scrollTop = panel.scrollHeight;
      }
      state.textContent = "the stream ended";
    } catch (err) {
      if (err?.name === "AbortError") state.textContent = "paused";
      else { state.textContent = "stopped"; fill(out, errorBox(err)); }
    } finally {
      toggle.textContent = "Resume";
      view.signal.removeEventListener("abort", stop);
      follow = null;
    }
  };
  toggle.addEventListener("click", () => (follow ? follow.abort() : start()));
  const clear = h("button", {type: "button", onclick: () => panel.replaceChildren()}, "Clear");
  fill(body, h("div", {class: "panel"},
    h("div", {class: "row bar"}, h("h2", {class: "grow"}, "Live logs"), state, toggle, clear), out, panel));
  start();
}

const RANGES = [["15", "last 15 minutes", 60], ["60", "last hour", 300],
                ["360", "last 6 hours", 1800], ["1440", "last 24 hours", 3600]];

function buckets(jobs, from, to, stepMs) {
  const out = new Map();
  for (const job of jobs) {
    const t = Date.parse(job.timestamp);
    if (t < from || t > to) continue;
    const key = from + Math.floor((t - from) / stepMs) * stepMs + stepMs / 2;
    if (!out.has(key)) out.set(key, {count: 0, errors: 0, durations: []});
    const b = out.get(key);
    b.count += 1;
    if (job.status === "failed") b.errors += 1;
    if (typeof job.duration === "number") b.durations.push(job.duration);
  }
  return [...out.entries()].sort((a, b) => a[0] - b[0]);
}

export async function metricsTab(body, view, f) {
  const range = select(RANGES.map(([v, label]) => [v, label]), view.query.get("range") ?? "60",
                       {id: "metrics-range"});
  const content = h("div", {id: "metrics"});
  const out = h("div");
  const refresh = h("button", {type: "button", id: "metrics-refresh"}, "Refresh");
  const draw = async () => {
    const [, , step] = RANGES.find(([v]) => v === range.value) ?? RANGES[1];
    const to = Date.now(), from = to - Number(range.value) * 60_000;
    const [m, page] = await Promise.all([
      call("GET", `${fn(f.name)}/metrics`, {query: {since: new Date(from).toISOString()}, signal: view.signal}),
      call("GET", `${fn(f.name)}/jobs`, {query: {limit: 500}, signal: view.signal}),
    ]);
    const series = buckets(page.jobs, from, to, step * 1000);
    const points = (pick) => series.map(([x, b]) => ({x, y: pick(b)})).filter((p) => p.y !== null);
    const sorted = (b) => [...b.durations].sort((a, c) => a - c);
    const d = m.duration ?? {};
    fill(out);
    fill(content,
      h("div", {class: "tiles"}, [
        ["invocations", m.invocations.total], ["failed", m.invocations.failed],
        ["success rate", `${Math.round(m.success_rate * 10) / 10} %`], ["cold starts", m.cold_starts],
        ["p50", ms(d.p50)], ["p95", ms(d.p95)], ["p99", ms(d.p99)],
        ["cost estimate", `$${Number(m.cost_estimate ?? 0).toFixed(6)}`],
      ].map(([label, value]) => h("div", {class: "tile"}, h("span", {}, label), h("strong", {}, value)))),
      h("div", {class: "charts"},
        lineChart({title: "Invocations and errors", from, to, series: [
          {name: "invocations", points: points((b) => b.count)},
          {name: "errors", points: points((b) => b.errors)}]}),
        lineChart({title: "Duration percentiles", from, to, unit: " ms", series: [
          {name: "p50", points: points((b) => percentile(sorted(b), 0.5))},
          {name: "p95", points: points((b) => percentile(sorted(b), 0.95))},
          {name: "p99", points: points((b) => percentile(sorted(b), 0.99))}]})),
      h("p", {class: "muted"}, `Totals from the metrics endpoint; charts from the newest ${page.jobs.length} jobs, `,
        `in ${step >= 3600 ? step / 3600 + " h" : step / 60 + " min"} buckets.`));
  };
  busy(refresh, out, draw);
  range.addEventListener("change", () => draw().catch((err) => fill(out, errorBox(err))));
  fill(body, h("div", {class: "row"}, field("Range", range), refresh), out, content);
  await draw();
  const timer = setInterval(() => {
    if (!document.hidden) draw().catch((err) => { if (err?.name !== "AbortError") fill(out, errorBox(err)); });
  }, 10_000);
  view.signal.addEventListener("abort", () => clearInterval(timer), {once: true});
}

export async function jobsTab(body, view, f) {
  const status = select([["", "any"], ["pending"], ["running"], ["success"], ["failed"]],
                        view.query.get("status") ?? "", {id: "jobs-status"});
  const rows = h("tbody");
  const detail = h("div", {id: "job-detail"});
  const out = h("div");
  const more = h("button", {type: "button", id: "jobs-more"}, "Older jobs");
  let before = null;
  const load = async (reset) => {
    if (reset) { rows.replaceChildren(); before = null; }
    const page = await call("GET", `${fn(f.name)}/jobs`, {signal: view.signal,
      query: {status: status.value, limit: 50, before}});
    for (const job of page.jobs) {
      const row = h("tr", {class: "clickable"},
        h("td", {}, h("code", {}, job.id.slice(0, 8))), h("td", {}, badge(job.status)),
        h("td", {}, job.trigger), h("td", {}, job.version), h("td", {}, when(job.timestamp)),
        h("td", {}, ms(job.duration)), h("td", {}, job.cold_start ? "yes" : "no"),
        h("td", {}, job.attempts));
      row.addEventListener("click", async () => {
        rows.querySelectorAll(".selected").forEach((r) => r.classList.remove("selected"));
        row.classList.add("selected");
        try {
          const [fresh, logs] = await Promise.all([
            call("GET", `jobs/${job.id}`, {signal: view.signal}),
            call("GET", `jobs/${job.id}/logs`, {signal: view.signal})]);
          fill(detail, h("div", {class: "panel"}, jobView(fresh), h("h2", {}, "Logs"), logLines(logs.logs)));
        } catch (err) {
          if (err?.name !== "AbortError") fill(detail, errorBox(err));
        }
      });
      rows.append(row);
    }
    before = page.next_before;
    more.disabled = !before;
    if (!rows.childElementCount) rows.append(h("tr", {}, h("td", {colspan: 8, class: "muted"}, "No job.")));
  };
  busy(more, out, () => load(false));
  status.addEventListener("change", () => load(true).catch((err) => fill(out, errorBox(err))));
  fill(body, h("div", {class: "panel"},
    h("div", {class: "row bar"}, h("h2", {class: "grow"}, "Jobs"), field("Status", status)), out,
    h("table", {id: "jobs"}, h("thead", {}, h("tr", {}, ["Job", "Status", "Trigger", "Version", "Requested",
      "Duration", "Cold start", "Attempts"].map((t) => h("th", {}, t)))), rows),
    h("div", {class: "pager"}, more)), detail);
  await load(true);
}
