"""What a Go or Rust compile is given, and what its log says about the user's file.

The user's file keeps its name and its line numbers in the compiler's eyes:

- Go: ``handler.go`` in ``package main`` beside the runtime (``runners/go``) and a
  generated ``fngate_entry.go`` that registers the handler. A file without a package
  clause gets ``package main;`` put in front of its first line (one line, so no line
  moves); another package name is renamed ``main`` in place.
- Rust: ``handler.rs`` is ``include!``-d at the root of a generated ``main.rs`` that
  glob-imports ``fngate_runtime::prelude::*`` (``Context``, ``Value``, ``json!``:
  an explicit ``use`` in the file shadows them, no conflict). Spans stay the file's own.

A failed compile's log is the compiler's output with paths as the user knows them,
after a first line naming the first error's line; an error in the generated entry
means no handler of a known form, so the log then says which signatures are expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from executors.models import Runtime
from executors.runtimes import DEBIAN_CRATES

__all__ = [
    "CompileError",
    "GO_SIGNATURES",
    "RUST_SIGNATURES",
    "SourceTree",
    "first_error",
    "go_sources",
    "readable_log",
    "runtime_source_digest",
    "rust_base_sources",
    "rust_main",
]

_RUNNERS = Path(__file__).parent / "runners"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_GO_PACKAGE = re.compile(r"^(\s*(?://[^\n]*\n\s*|/\*[\s\S]*?\*/\s*)*)package\s+([A-Za-z_]\w*)")
_GO_DEFINES_LOWER = re.compile(r"^func\s+handler\s*\(", re.MULTILINE)
_PACKAGE_PREFIX = "package main; "

GO_SIGNATURES = (
    "func {name}(event map[string]any) (any, error)",
    "func {name}(ctx context.Context, event json.RawMessage) (any, error)",
    "func {name}(ctx context.Context, event map[string]any) (any, error)",
    "func {name}(event json.RawMessage) (any, error)",
)
RUST_SIGNATURES = (
    "fn {name}(event: Value, ctx: &Context) -> Result<Value, Box<dyn std::error::Error>>",
    "fn {name}(event: Value) -> Result<Value, Box<dyn std::error::Error>>",
)

GO_MOD = "module fngate.function\n\ngo 1.19\n"
RUST_CARGO_TOML = """[package]
name = "fngate_runtime"
version = "0.1.0"
edition = "2021"

[lib]
path = "src/lib.rs"

[dependencies]
serde = "1"
serde_json = "1"

[profile.release]
opt-level = 2
"""
# Debian's packaged crates as the only source: no network, no other registry.
RUST_CARGO_CONFIG = f"""[source.crates-io]
replace-with = "debian"

[source.debian]
directory = "{DEBIAN_CRATES}"

[net]
offline = true
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class CompileError:
    """The first error of a failed compile, in the user's file when it is there."""

    message: str
    line: int | None = None
    column: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceTree:
    """Files to write (relative path → text) and the handler name compiled in."""

    files: dict[str, str]
    handler: str
    # Go: the prefix put before the user's first line (its columns move by its length).
    line1_shift: int = 0


@cache
def _runner(path: str) -> str:
    return (_RUNNERS / path).read_text(encoding="utf-8")


@cache
def runtime_source_digest(runtime: Runtime) -> str:
    """What of the runtime library a build's cache key covers (its source, verbatim)."""
    import hashlib

    text = _runner("go/fngate_runtime.go") if runtime == "go" else (
        _runner("rust/lib.rs") + RUST_CARGO_TOML + RUST_CARGO_CONFIG)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _expected(runtime: Runtime, name: str) -> str:
    forms = GO_SIGNATURES if runtime == "go" else RUST_SIGNATURES
    where = "handler.go (package main)" if runtime == "go" else "handler.rs"
    listed = "\n".join("  " + f.format(name=name) for f in forms)
    return f"{where} must define the handler '{name}' as one of:\n{listed}"


def go_handler_name(code: str, handler: str) -> str:
    """The Go function to call: ``handler`` as given, except the API's default name
    ``handler`` means ``Handler`` unless the file defines a lowercase ``handler``."""
    if handler == "handler" and not _GO_DEFINES_LOWER.search(code):
        return "Handler"
    return handler


def go_sources(code: str, handler: str) -> SourceTree | CompileError:
    """The Go module to build, or why it cannot be built."""
    name = go_handler_name(code, handler)
    if not _IDENT.fullmatch(name):
        return CompileError(message=f"handler '{name}' is not a Go function name")
    shift = 0
    match = _GO_PACKAGE.match(code)
    if match is None:
        code = _PACKAGE_PREFIX + code
        shift = len(_PACKAGE_PREFIX)
    elif match.group(2) != "main":
        code = code[: match.start(2)] + "main" + code[match.end(2):]
    return SourceTree(
        files={
            "go.mod": GO_MOD,
            "handler.go": code,
            "fngate_runtime.go": _runner("go/fngate_runtime.go"),
            "fngate_entry.go": f"package main\n\nfunc init() {{ fngateRegister({name}) }}\n",
        },
        handler=name,
        line1_shift=shift,
    )


def rust_base_sources() -> dict[str, str]:
    """The runtime crate, built once per toolchain with its dependencies."""
    return {
        "Cargo.toml": RUST_CARGO_TOML,
        ".cargo/config.toml": RUST_CARGO_CONFIG,
        "src/lib.rs": _runner("rust/lib.rs"),
    }


def rust_main(code: str, handler: str) -> SourceTree | CompileError:
    """The function's crate root, or why it cannot be built."""
    if not _IDENT.fullmatch(handler):
        return CompileError(message=f"handler '{handler}' is not a Rust function name")
    main = (
        "#[allow(unused_imports)]\nuse fngate_runtime::prelude::*;\n"
        'include!("handler.rs");\n'
        f"fn main() {{ fngate_runtime::run({handler}); }}\n"
    )
    return SourceTree(files={"main.rs": main, "handler.rs": code}, handler=handler)


_GO_AT = re.compile(r"^(?:\./)?handler\.go:(\d+):(\d+): (.+)$", re.MULTILINE)
_GO_ENTRY = re.compile(r"fngate_entry\.go:\d+:\d+")
_RUST_AT = re.compile(
    r"^error(?:\[E\d+\])?: (.+)\n\s*--> (?:\./)?(handler|main)\.rs:(\d+):(\d+)", re.MULTILINE)


def first_error(runtime: Runtime, log: str, tree: SourceTree) -> CompileError:
    """The first error the compiler reported, with the line in the user's file."""
    if runtime == "go":
        entry = _GO_ENTRY.search(log)
        found = _GO_AT.search(log)
        if found is not None and (entry is None or found.start() < entry.start()):
            line, column = int(found.group(1)), int(found.group(2))
            if line == 1:
                column = max(1, column - tree.line1_shift)
            return CompileError(message=found.group(3), line=line, column=column)
        if entry is not None:
            return CompileError(message=_expected(runtime, tree.handler))
    else:
        for m in _RUST_AT.finditer(log):
            if m.group(2) == "handler":
                return CompileError(message=m.group(1), line=int(m.group(3)),
                                    column=int(m.group(4)))
            return CompileError(message=_expected(runtime, tree.handler))
    last = [ln for ln in log.strip().splitlines() if ln.strip()]
    return CompileError(message=last[-1] if last else "the compile failed")


def readable_log(runtime: Runtime, log: str, tree: SourceTree, error: CompileError) -> str:
    """The compiler's output as the user reads it: paths relative to their file, the
    first error's place first, and the expected signatures when no handler matched."""
    if runtime == "go":
        log = log.replace("./handler.go:", "handler.go:")
    where = f"line {error.line}, column {error.column}: " if error.line is not None else ""
    head = f"compile error at {where}{error.message}\n\n" if where else ""
    if error.line is None and "must define the handler" in error.message:
        head = error.message + "\n\n"
    return head + log
