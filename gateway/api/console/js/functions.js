// The functions list (with the API's filters) and the form that creates a function.

import {call} from "./api.js";
import {h, fill, badge, when, busy, field, select} from "./dom.js";
import {createEditor} from "./editor.js";

export const RUNTIMES = [["python", "Python"], ["nodejs", "Node.js"], ["go", "Go"], ["rust", "Rust"]];

export const TEMPLATES = {
  python: `def handler(event, context):
    print("hello from", context.function_name)
    return {"echo": event}
`,
  nodejs: `exports.handler = async (event, context) => {
  console.log("hello from", context.function_name);
  return { echo: event };
};
`,
  go: `package main

import "fmt"

func Handler(event map[string]any) (any, error) {
\tfmt.Println("hello from go")
\treturn map[string]any{"echo": event}, nil
}
`,
  rust: `fn handler(event: Value, ctx: &Context) -> Result<Value, Box<dyn std::error::Error>> {
    println!("hello from {}", ctx.function_name);
    Ok(json!({"echo": event}))
}
`,
};

export async function functionList(main, view) {
  const q = view.query;
  const filters = {
    project: q.get("project") ?? "", language: q.get("language") ?? "",
    label: q.get("label") ?? "", page: Number(q.get("page") ?? 1),
    per_page: Number(q.get("per_page") ?? 20),
  };
  const page = await call("GET", "functions", {signal: view.signal, query: {
    ...filters, label: filters.label.split(",").map((v) => v.trim()).filter(Boolean),
  }});
  const project = h("input", {name: "project", value: filters.project, placeholder: "any"});
  const language = select([["", "any"], ...RUNTIMES], filters.language, {name: "language"});
  const label = h("input", {name: "label", value: filters.label, placeholder: "team:web, tier:1"});
  const apply = (pageNumber) => {
    const next = new URLSearchParams();
    for (const [key, value] of [["project", project.value.trim()], ["language", language.value],
                                ["label", label.value.trim()], ["page", pageNumber]]) {
      if (value && value !== 1) next.set(key, value);
    }
    location.hash = `#/functions?${next}`;
  };
  const lastPage = Math.max(1, Math.ceil(page.total / page.per_page));
  fill(main,
    h("div", {class: "row"}, h("h1", {class: "grow"}, "Functions"),
      h("a", {href: "#/functions/new"}, h("button", {class: "primary", type: "button"}, "New function"))),
    h("form", {class: "panel row", id: "filters", onsubmit: (e) => { e.preventDefault(); apply(1); }},
      field("Project", project), field("Language", language), field("Labels (k:v, comma list)", label),
      h("button", {type: "submit"}, "Filter")),
    h("div", {class: "panel"},
      page.functions.length === 0 ? h("p", {class: "muted"}, "No function matches.") :
      h("table", {id: "functions"},
        h("thead", {}, h("tr", {}, ["Name", "Runtime", "Status", "Version", "Project", "Labels",
                                    "Updated"].map((t) => h("th", {}, t)))),
        h("tbody", {}, page.functions.map((f) => h("tr", {},
          h("td", {}, h("a", {href: `#/functions/${encodeURIComponent(f.name)}/code`}, f.name)),
          h("td", {}, f.runtime), h("td", {}, badge(f.status)), h("td", {}, f.active_version),
          h("td", {}, f.project),
          h("td", {}, Object.entries(f.labels ?? {}).map(([k, v]) => h("span", {class: "badge"}, `${k}:${v}`))),
          h("td", {}, when(f.updated_at)))))),
      h("div", {class: "pager"},
        h("button", {type: "button", disabled: filters.page <= 1, onclick: () => apply(filters.page - 1)}, "Previous"),
        h("span", {class: "muted"}, `page ${page.page} of ${lastPage} · ${page.total} functions`),
        h("button", {type: "button", disabled: filters.page >= lastPage, onclick: () => apply(filters.page + 1)}, "Next"))));
}

export async function newFunction(main, view) {
  const name = h("input", {name: "name", id: "new-name", required: true, placeholder: "hello",
                           pattern: "[A-Za-z][A-Za-z0-9_\\-]{0,63}"});
  const runtime = select(RUNTIMES, "python", {name: "runtime", id: "new-runtime"});
  const handler = h("input", {name: "handler", value: "handler"});
  const execution = select([["sync"], ["async"]], "sync", {name: "execution_type"});
  const project = h("input", {name: "project", placeholder: "default"});
  const description = h("input", {name: "description", class: "grow"});
  const host = h("div", {class: "editor", id: "new-code"});
  const out = h("div");
  const create = h("button", {class: "primary", type: "submit", id: "create"}, "Create");
  fill(main, h("h1", {}, "New function"),
    h("form", {class: "panel"},
      h("div", {class: "row"}, field("Name", name), field("Runtime", runtime),
        field("Handler", handler), field("Execution", execution), field("Project", project),
        field("Description", description)),
      h("h2", {}, "Code"), host, h("div", {class: "row"}, create), out));
  const editor = createEditor(host, {doc: TEMPLATES.python, runtime: "python"});
  let template = TEMPLATES.python;
  runtime.addEventListener("change", () => {
    editor.setRuntime(runtime.value);
    // Swap the template only while the user has not written code of their own.
    if (editor.value === template) editor.setValue(TEMPLATES[runtime.value]);
    template = TEMPLATES[runtime.value];
  });
  busy(create, out, async () => {
    const body = {name: name.value.trim(), runtime: runtime.value, code: editor.value,
                  handler: handler.value.trim() || "handler", execution_type: execution.value};
    if (project.value.trim()) body.project = project.value.trim();
    if (description.value.trim()) body.description = description.value.trim();
    const created = await call("POST", "functions", {body, signal: view.signal});
    location.hash = `#/functions/${encodeURIComponent(created.name)}/code`;
  });
  name.focus();
}

