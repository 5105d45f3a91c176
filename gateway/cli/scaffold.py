"""``fngate init NAME --runtime R``: a folder ``NAME/`` with a handler, its manifest and a
test of the handler that runs locally with the runtime's own tools."""

from __future__ import annotations

from pathlib import Path

import click

from gateway.cli._common import CliState, Failed, api_command
from gateway.cli.manifest import MANIFEST

__all__ = ["TEMPLATES", "register", "scaffold"]

_PY_HANDLER = '''\
def handler(event, context=None):
    """Greet the caller: {"name": "Ada"} -> {"hello": "Ada"}."""
    name = event.get("name", "world") if isinstance(event, dict) else "world"
    print(f"greeting {name}")
    return {"hello": name, "event": event}
'''
_PY_TEST = '''\
"""Run with `python -m pytest` or `python test_handler.py`."""
from handler import handler


def test_greets_by_name():
    assert handler({"name": "Ada"})["hello"] == "Ada"


def test_greets_the_world_by_default():
    assert handler({})["hello"] == "world"


if __name__ == "__main__":
    test_greets_by_name()
    test_greets_the_world_by_default()
    print("ok")
'''
_JS_HANDLER = '''\
// Greet the caller: {"name": "Ada"} -> {"hello": "Ada"}.
exports.handler = async (event, context) => {
  const name = (event && event.name) || "world";
  console.log(`greeting ${name}`);
  return { hello: name, event };
};
'''
_JS_TEST = '''\
// Run with `node --test`.
const test = require("node:test");
const assert = require("node:assert");
const { handler } = require("./handler.js");

test("greets by name", async () => {
  assert.strictEqual((await handler({ name: "Ada" })).hello, "Ada");
});

test("greets the world by default", async () => {
  assert.strictEqual((await handler({})).hello, "world");
});
'''
_GO_HANDLER = '''\
package main

import "fmt"

// Handler greets the caller: {"name": "Ada"} -> {"hello": "Ada"}.
func Handler(event map[string]any) (any, error) {
	name, _ := event["name"].(string)
	if name == "" {
		name = "world"
	}
	fmt.Println("greeting", name)
	return map[string]any{"hello": name, "event": event}, nil
}
'''
_GO_TEST = '''\
package main

// Run with `go test`.

import "testing"

func TestGreetsByName(t *testing.T) {
	got, err := Handler(map[string]any{"name": "Ada"})
	if err != nil || got.(map[string]any)["hello"] != "Ada" {
		t.Fatalf("got %v, %v", got, err)
	}
}

func TestGreetsTheWorldByDefault(t *testing.T) {
	got, _ := Handler(map[string]any{})
	if got.(map[string]any)["hello"] != "world" {
		t.Fatalf("got %v", got)
	}
}
'''
_GO_MOD = "module @NAME@\n\ngo 1.19\n"
_RS_HANDLER = '''\
// Compiled inside the gateway's runtime crate, which provides `Context` (and `Value`, `json!`).
use serde_json::{json, Value};

/// Greets the caller: {"name": "Ada"} -> {"hello": "Ada"}.
fn handler(event: serde_json::Value, ctx: &Context) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let name = event["name"].as_str().unwrap_or("world").to_string();
    println!("greeting {} (job {})", name, ctx.job_id);
    let answer: Value = json!({"hello": name, "event": event});
    Ok(answer)
}
'''  # noqa: E501 (the Rust runtime reads the handler's signature on one line)
_RS_CARGO = '''\
# Only for `cargo test` here: the gateway compiles handler.rs in its own crate.
[package]
name = "@NAME@"
version = "0.1.0"
edition = "2021"

[lib]
path = "local/lib.rs"

[dependencies]
serde_json = "1"
'''
_RS_LIB = '''\
// A stand-in for the runtime's `Context`, so that `cargo test` runs the handler locally.
#[allow(dead_code)]
pub struct Context {
    pub job_id: String,
    pub function_name: String,
}

include!("../handler.rs");

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context { job_id: "local".into(), function_name: "test".into() }
    }

    #[test]
    fn greets_by_name() {
        let got = handler(json!({"name": "Ada"}), &ctx()).unwrap();
        assert_eq!(got["hello"], "Ada");
    }

    #[test]
    fn greets_the_world_by_default() {
        assert_eq!(handler(json!({}), &ctx()).unwrap()["hello"], "world");
    }
}
'''
_MANIFEST = '''\
# fngate deploy reads this file; see docs/cli.md for every key.
[function]
name = "{name}"
runtime = "{runtime}"
code = "{code}"
handler = "{handler}"
description = "Greets the caller"
# dependencies = "requirements.txt"   # or a list: ["requests>=2"]

# [function.environment]
# API_KEY = "${{API_KEY}}"             # taken from your environment at deploy time

[function.limits]
timeout_ms = 10000
memory_mb = 128

# [[function.triggers]]
# type = "http"
# path = "/{name}"
'''

#: Per runtime: the handler's name, then the files as (path, template).
TEMPLATES: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "python": ("handler", (("handler.py", _PY_HANDLER), ("test_handler.py", _PY_TEST))),
    "nodejs": ("handler", (("handler.js", _JS_HANDLER), ("handler.test.js", _JS_TEST))),
    "go": ("Handler", (("handler.go", _GO_HANDLER), ("handler_test.go", _GO_TEST),
                       ("go.mod", _GO_MOD))),
    "rust": ("handler", (("handler.rs", _RS_HANDLER), ("Cargo.toml", _RS_CARGO),
                         ("local/lib.rs", _RS_LIB))),
}


def scaffold(folder: Path, name: str, runtime: str) -> list[Path]:
    """Write the folder; the files written. Refuses a folder that already has files."""
    if folder.exists() and any(folder.iterdir()):
        raise Failed(f"{folder} already exists and is not empty")
    handler, files = TEMPLATES[runtime]
    written = []
    manifest = _MANIFEST.format(name=name, runtime=runtime, code=files[0][0], handler=handler)
    for relative, template in ((MANIFEST, manifest), *files):
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        text = template if template is manifest else template.replace("@NAME@", name.lower())
        path.write_text(text)
        written.append(path)
    return written


def register(cli: click.Group) -> None:
    @api_command(cli, "init", example="fngate init hello --runtime python && cd hello && "
                                      "fngate deploy")
    @click.argument("name")
    @click.option("--runtime", "-r", type=click.Choice(sorted(TEMPLATES)), default="python",
                  show_default=True, help="The function's language.")
    def init(state: CliState, name: str, runtime: str) -> None:
        """Scaffold a function in a new folder NAME/: its handler, a fngate.toml manifest
        and a test of the handler to run locally."""
        written = scaffold(Path(name), name, runtime)
        state.emit([str(p) for p in written], lambda out: out.print(
            f"created {name}/ ({runtime}): " + ", ".join(
                str(p.relative_to(name)) for p in written)
            + f"\nnext: cd {name} && fngate deploy", highlight=False))
