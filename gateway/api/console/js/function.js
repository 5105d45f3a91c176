// One function's page: its facts, and a tab each for code, invoke, logs, metrics, jobs,
// versions and triggers.

import {call, fn} from "./api.js";
import {h, fill, badge, when, ms, json, errorBox, busy, field, select} from "./dom.js";
import {createEditor} from "./editor.js";
import {invokeTab} from "./invoke.js";
import {logsTab, metricsTab, jobsTab} from "./observe.js";

const TABS = [["code", "Code"], ["invoke", "Invoke"], ["logs", "Logs"], ["metrics", "Metrics"],
              ["jobs", "Jobs"], ["versions", "Versions"], ["triggers", "Triggers"]];

export async function functionPage(main, view, name, tab) {
  const f = await call("GET", fn(name), {signal: view.signal});
  const body = h("section", {id: `tab-${tab}`});
  const head = h("div");
  const showHead = () => fill(head,
    h("div", {class: "row"}, h("h1", {class: "grow", id: "function-name"}, f.name), badge(f.status)),
    h("div", {class: "panel facts"},
      [["runtime", f.runtime], ["active version", f.active_version], ["handler", f.handler],
       ["execution", f.execution_type], ["project", f.project], ["timeout", ms(f.timeout_ms)],
       ["memory", `${f.memory_mb} MB`], ["updated", when(f.updated_at)], ["endpoint", f.endpoint]]
        .map(([label, value]) => h("div", {id: `fact-${label.replace(" ", "-")}`},
                                   h("span", {}, label), value))));
  // A tab that changed the function (a deploy, a rollback) shows its new state up here.
  view.changed = async (updated) => {
    Object.assign(f, updated ?? await call("GET", fn(f.name), {signal: view.signal}));
    showHead();
  };
  showHead();
  fill(main, head,
    h("nav", {class: "tabs"}, TABS.map(([id, label]) => h("a", {
      href: `#/functions/${encodeURIComponent(f.name)}/${id}`, class: id === tab ? "active" : "",
      id: `tab-link-${id}`}, label))),
    body);
  const tabs = {code: codeTab, invoke: invokeTab, logs: logsTab, metrics: metricsTab,
                jobs: jobsTab, versions: versionsTab, triggers: triggersTab};
  await (tabs[tab] ?? codeTab)(body, view, f);
}

async function codeTab(body, view, f) {
  const host = h("div", {class: "editor", id: "code-editor"});
  const handler = h("input", {name: "handler", value: f.handler});
  const out = h("div");
  const save = h("button", {class: "primary", type: "button", id: "deploy"}, "Deploy as new version");
  const remove = h("button", {class: "danger", type: "button", id: "delete"}, "Delete function");
  fill(body, h("div", {class: "panel"}, host,
    h("div", {class: "row"}, field("Handler", handler), save, h("span", {class: "grow"}), remove), out));
  const editor = createEditor(host, {doc: f.code ?? "", runtime: f.runtime});
  busy(save, out, async () => {
    const change = {};
    if (editor.value !== f.code) change.code = editor.value;
    if (handler.value.trim() !== f.handler) change.handler = handler.value.trim();
    if (!Object.keys(change).length) {
      fill(out, h("div", {class: "notice"}, "Nothing changed."));
      return;
    }
    const updated = await call("PUT", fn(f.name), {body: change, signal: view.signal});
    await view.changed(updated);
    fill(out, h("div", {class: "notice"},
      `Deployed: version ${updated.active_version}, ${updated.status}.`));
  });
  busy(remove, out, async () => {
    if (!confirm(`Delete ${f.name}, its versions and triggers?`)) return;
    await call("DELETE", fn(f.name), {signal: view.signal});
    location.hash = "#/functions";
  });
}

async function versionsTab(body, view, f) {
  const out = h("div");
  const code = h("div");
  const list = await call("GET", `${fn(f.name)}/versions`, {signal: view.signal});
  const reload = () => versionsTab(body, view, f);
  const rollback = h("button", {type: "button", id: "rollback"}, "Roll back to the previous version");
  busy(rollback, out, async () => {
    await view.changed(await call("POST", `${fn(f.name)}/rollback`, {signal: view.signal}));
    await reload();
  });
  fill(body, h("div", {class: "panel"},
    h("div", {class: "row bar"}, h("h2", {class: "grow"}, "Versions"), rollback), out,
    h("table", {id: "versions"},
      h("thead", {}, h("tr", {}, ["Version", "Build", "Active", "Created", "Build time", ""]
        .map((t) => h("th", {}, t)))),
      h("tbody", {}, list.versions.map((v) => {
        const activate = h("button", {type: "button", disabled: v.is_active || v.build_status !== "success"},
                           "Activate");
        busy(activate, out, async () => {
          await view.changed(await call("PUT", `${fn(f.name)}/versions/${v.version}/active`,
                                        {signal: view.signal}));
          await reload();
        });
        const show = h("button", {type: "button", onclick: () => {
          fill(code, h("h2", {}, `Version ${v.version}`), v.build_log ? h("details", {},
            h("summary", {}, "build log"), h("pre", {}, v.build_log)) : null);
          const host = h("div", {class: "editor small"});
          code.append(host);
          createEditor(host, {doc: v.code ?? "", runtime: f.runtime, readOnly: true});
        }}, "Code");
        return h("tr", {}, h("td", {}, v.version), h("td", {}, badge(v.build_status)),
          h("td", {}, v.is_active ? badge("active") : ""), h("td", {}, when(v.created_at)),
          h("td", {}, ms(v.build_duration_ms)), h("td", {}, h("div", {class: "row"}, show, activate)));
      })))), code);
}

const TRIGGER_CONFIGS = {
  http: {path: "/hello", methods: ["GET", "POST"], public: false},
  cron: {schedule: "*/5 * * * *", timezone: "UTC", payload: {}},
  queue: {queue: "orders", prefetch: 10, dead_letter: true},
};

async function triggersTab(body, view, f) {
  const out = h("div");
  const list = await call("GET", `${fn(f.name)}/triggers`, {signal: view.signal});
  const reload = () => triggersTab(body, view, f);
  const type = select([["http"], ["cron"], ["queue"]], "http", {name: "type", id: "trigger-type"});
  const name = h("input", {name: "name", placeholder: "optional"});
  const enabled = h("input", {type: "checkbox", checked: true});
  const config = h("textarea", {id: "trigger-config", rows: 5}, json(TRIGGER_CONFIGS.http));
  type.addEventListener("change", () => { config.value = json(TRIGGER_CONFIGS[type.value]); });
  const add = h("button", {class: "primary", type: "button", id: "add-trigger"}, "Add trigger");
  busy(add, out, async () => {
    let parsed;
    try {
      parsed = JSON.parse(config.value);
    } catch (err) {
      fill(out, errorBox({code: "INVALID_JSON", message: `config is not JSON: ${err.message}`}));
      return;
    }
    const trigger = {type: type.value, enabled: enabled.checked, config: parsed};
    if (name.value.trim()) trigger.name = name.value.trim();
    await call("POST", `${fn(f.name)}/triggers`, {body: trigger, signal: view.signal});
    await reload();
  });
  fill(body,
    h("div", {class: "panel"}, h("h2", {}, "Triggers"), out,
      list.triggers.length === 0 ? h("p", {class: "muted"}, "No trigger: the function runs when invoked.") :
      h("table", {id: "triggers"},
        h("thead", {}, h("tr", {}, ["Id", "Name", "Type", "Enabled", "Config", "Next run", ""]
          .map((t) => h("th", {}, t)))),
        h("tbody", {}, list.triggers.map((t) => {
          const toggle = h("button", {type: "button"}, t.enabled ? "Disable" : "Enable");
          busy(toggle, out, async () => {
            await call("PUT", `${fn(f.name)}/triggers/${t.id}`, {body: {enabled: !t.enabled}, signal: view.signal});
            await reload();
          });
          const remove = h("button", {type: "button", class: "danger"}, "Delete");
          busy(remove, out, async () => {
            await call("DELETE", `${fn(f.name)}/triggers/${t.id}`, {signal: view.signal});
            await reload();
          });
          return h("tr", {}, h("td", {}, t.id), h("td", {}, t.name ?? ""), h("td", {}, t.type),
            h("td", {}, h("span", {class: `badge ${t.enabled ? "ok" : "bad"}`}, t.enabled ? "enabled" : "disabled")),
            h("td", {}, h("pre", {}, json(t.config))), h("td", {}, when(t.next_run_at)),
            h("td", {}, h("div", {class: "row"}, toggle, remove)));
        })))),
    h("div", {class: "panel"}, h("h2", {}, "Add a trigger"),
      h("div", {class: "row"}, field("Type", type), field("Name", name),
        h("label", {class: "check"}, enabled, "enabled")),
      field("Config (JSON)", config), h("div", {class: "row"}, add)));
}
