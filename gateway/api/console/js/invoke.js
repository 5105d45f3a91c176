// The invoke panel: a JSON body in, the finished job out (result or error, duration, cold
// start) with the log lines of that job.

import {call, exchange, fn} from "./api.js";
import {h, fill, badge, ms, json, errorBox, busy, field} from "./dom.js";

const FINISHED = new Set(["success", "failed"]);

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(timer); reject(signal.reason); }, {once: true});
  });
}

/** The job, polled until it has finished (an async invoke answers while it is pending). */
export async function finished(job, signal) {
  let delay = 200;
  while (!FINISHED.has(job.status)) {
    await sleep(delay, signal);
    delay = Math.min(delay * 1.5, 2000);
    job = await call("GET", `jobs/${job.id}`, {signal});
  }
  return job;
}

/** A job's lines, as a log panel. */
export function logLines(lines, attrs = {}) {
  return h("div", {class: "logs short", ...attrs},
    lines.length === 0 ? h("div", {class: "muted"}, "(no output)") :
    lines.map((line) => h("div", {class: `line ${line.stream}`},
      h("span", {class: "ts"}, new Date(line.timestamp).toLocaleTimeString()),
      h("span", {class: "msg"}, line.message))));
}

/** A finished (or pending) job: facts, result or error. */
export function jobView(job) {
  return h("div", {class: "job", "data-job": job.id},
    h("div", {class: "facts"},
      [["status", badge(job.status)], ["duration", ms(job.duration)],
       ["cold start", job.cold_start ? "yes" : "no"], ["version", job.version],
       ["attempts", job.attempts], ["cached", job.cached ? "yes" : "no"], ["trigger", job.trigger],
       ["job", h("code", {}, job.id)]].map(([label, value]) =>
        h("div", {class: `fact-${label.replace(" ", "-")}`}, h("span", {}, label), value))),
    job.error ? errorBox(job.error) : null,
    job.status === "success" ? [h("h2", {}, "Result"), h("pre", {id: "invoke-result"}, json(job.result))] : null);
}

export async function invokeTab(body, view, f) {
  const event = h("textarea", {id: "invoke-body", rows: 6, spellcheck: "false"}, '{"x": 1}');
  const asyncMode = h("input", {type: "checkbox", checked: f.execution_type === "async"});
  const key = h("input", {name: "idempotency", placeholder: "optional"});
  const out = h("div", {id: "invoke-output"});
  const run = h("button", {class: "primary", type: "button", id: "invoke"}, "Invoke");
  busy(run, out, async () => {
    fill(out, h("p", {class: "muted"}, "Running…"));
    const headers = {};
    if (key.value.trim()) headers["Idempotency-Key"] = key.value.trim();
    // The body goes as typed: a malformed one is the API's to refuse (400, shown below).
    const answer = await exchange("POST", `${fn(f.name)}/invoke`, {
      body: event.value.trim() || "{}", headers, signal: view.signal,
      query: asyncMode.checked ? {async: "true"} : undefined});
    const job = await finished(answer.data, view.signal);
    const logs = await call("GET", `jobs/${job.id}/logs`, {signal: view.signal});
    fill(out, h("div", {class: "panel"}, jobView(job), h("h2", {}, "Logs"),
      logLines(logs.logs, {id: "invoke-logs"})));
  });
  fill(body, h("div", {class: "panel"},
    field("Event (JSON body)", event),
    h("div", {class: "row"}, h("label", {class: "check"}, asyncMode, "asynchronously (202, then wait)"),
      field("Idempotency key", key), run)), out);
}
