"""The deploy manifest, ``fngate.toml``: one ``[function]`` table, or ``[[functions]]``
listing several, read into :class:`FunctionSpec` values (the API's fields, the code read
from its file, ``${VAR}`` expanded in ``environment`` from the caller's environment).

    [function]
    name = "hello"
    runtime = "python"
    code = "handler.py"                 # a file, or a folder holding one source file
    dependencies = "requirements.txt"   # a file (requirements.txt, package.json) or a list
    [function.environment]
    API_KEY = "${API_KEY}"              # ${VAR:-default}; $$ is a literal $
    [function.limits]
    timeout_ms = 10000
    [[function.triggers]]
    type = "http"
    path = "/hello"                     # config keys, or a [config] table
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["MANIFEST", "SOURCE_SUFFIX", "FunctionSpec", "ManifestError", "TriggerSpec",
           "load_manifest", "runtime_family"]

MANIFEST = "fngate.toml"

#: The source file of each runtime family.
SOURCE_SUFFIX = {"python": ".py", "nodejs": ".js", "go": ".go", "rust": ".rs"}

#: API fields a function table may set as they are (``limits`` may hold the settings too).
_SETTINGS = frozenset({
    "timeout_ms", "memory_mb", "cpu_millis", "ephemeral_storage_mb", "network",
    "max_concurrency", "min_warm", "cache_ttl", "cache_scope", "max_retries", "rate_limit",
    "execution_type",
})
_PLAIN = frozenset({"name", "runtime", "handler", "description", "project", "labels",
                    "schema", "examples"}) | _SETTINGS
_SPECIAL = frozenset({"code", "path", "dependencies", "environment", "limits", "triggers"})
_TRIGGER_KEYS = frozenset({"type", "name", "enabled", "config"})
_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ManifestError(Exception):
    """The manifest (or a file it names) cannot be used; the message says where."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TriggerSpec:
    """A trigger as the manifest wants it."""

    type: str
    config: dict[str, Any]
    name: str | None = None
    enabled: bool = True

    def body(self) -> dict[str, Any]:
        """The API's trigger body."""
        out: dict[str, Any] = {"type": self.type, "config": self.config,
                               "enabled": self.enabled}
        if self.name is not None:
            out["name"] = self.name
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class FunctionSpec:
    """A function as the manifest wants it: ``fields`` are API fields (``code`` the source
    text), ``triggers`` None when the manifest does not manage them."""

    name: str
    fields: dict[str, Any]
    triggers: tuple[TriggerSpec, ...] | None = None
    source: Path = field(default_factory=Path)


def runtime_family(runtime: str) -> str:
    """``python3.11`` → ``python``, ``node``/``nodejs18`` → ``nodejs``, ``golang`` → ``go``."""
    value = runtime.strip().lower()
    for family, prefixes in (("python", ("python",)), ("nodejs", ("node",)),
                             ("go", ("go",)), ("rust", ("rust",))):
        if value.startswith(prefixes):
            return family
    return value


def load_manifest(path: Path, environ: Mapping[str, str]) -> list[FunctionSpec]:
    """The functions of the manifest at ``path`` (a file, or a folder holding
    ``fngate.toml``)."""
    file = path / MANIFEST if path.is_dir() else path
    try:
        with file.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ManifestError(f"{file}: no such manifest (fngate init NAME writes one)") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ManifestError(f"{file}: {exc}") from None
    unknown = set(data) - {"function", "functions", "project"}
    if unknown:
        raise ManifestError(f"{file}: unknown key {sorted(unknown)[0]!r} (expected [function] "
                            "or [[functions]], and optionally project)")
    tables = ([data["function"]] if "function" in data else []) + list(data.get("functions", []))
    if not tables:
        raise ManifestError(f"{file}: no [function] table nor [[functions]] list")
    specs = [_function(file, i, t, data.get("project"), environ) for i, t in enumerate(tables)]
    names = [s.name.lower() for s in specs]
    for name in names:
        if names.count(name) > 1:
            raise ManifestError(f"{file}: function {name!r} is listed twice")
    return specs


def _function(file: Path, index: int, table: Any, project: Any,
              environ: Mapping[str, str]) -> FunctionSpec:
    where = f"{file}: function {index + 1}"
    if not isinstance(table, dict):
        raise ManifestError(f"{where}: must be a table")
    if "name" in table:
        where = f"{file}: function {table['name']!r}"
    unknown = set(table) - _PLAIN - _SPECIAL
    if unknown:
        raise ManifestError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    for key in ("name", "runtime"):
        if not isinstance(table.get(key), str) or not table[key]:
            raise ManifestError(f"{where}: '{key}' is required (a string)")
    fields: dict[str, Any] = {k: v for k, v in table.items() if k in _PLAIN}
    limits = table.get("limits", {})
    if not isinstance(limits, dict) or set(limits) - _SETTINGS:
        bad = sorted(set(limits) - _SETTINGS) if isinstance(limits, dict) else ["limits"]
        raise ManifestError(f"{where}: unknown limit {bad[0]!r} (known: "
                            f"{', '.join(sorted(_SETTINGS))})")
    for key, value in limits.items():
        if key in fields:
            raise ManifestError(f"{where}: {key!r} is set both in the table and in [limits]")
        fields[key] = value
    if project is not None and "project" not in fields:
        fields["project"] = project
    base = file.parent / str(table.get("path", "."))
    family = runtime_family(fields["runtime"])
    source = _source(where, base, table.get("code"), family)
    try:
        fields["code"] = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{where}: cannot read {source}: {exc}") from None
    if "dependencies" in table:
        fields["dependencies"] = _dependencies(where, base, table["dependencies"])
    if "environment" in table:
        fields["environment"] = _environment(where, table["environment"], environ)
    triggers = None
    if "triggers" in table:
        if not isinstance(table["triggers"], list):
            raise ManifestError(f"{where}: 'triggers' must be a list ([[function.triggers]])")
        triggers = tuple(_trigger(f"{where}: trigger {i + 1}", t)
                         for i, t in enumerate(table["triggers"]))
    return FunctionSpec(name=fields["name"], fields=fields, triggers=triggers, source=source)


def _source(where: str, base: Path, code: Any, family: str) -> Path:
    suffix = SOURCE_SUFFIX.get(family)
    if code is not None and not isinstance(code, str):
        raise ManifestError(f"{where}: 'code' must be a path (a string)")
    path = base / (code or ".")
    if path.is_file():
        return path
    if not path.is_dir():
        raise ManifestError(f"{where}: code {path} does not exist")
    found = sorted(p for p in path.iterdir()
                   if p.is_file() and p.suffix == suffix and not _is_test(p.name))
    if len(found) != 1:
        listed = ", ".join(p.name for p in found) or "none"
        raise ManifestError(f"{where}: code folder {path} must hold one {suffix} source file "
                            f"besides tests (found: {listed}); name it with code = \"FILE\"")
    return found[0]


def _is_test(name: str) -> bool:
    stem = name.split(".")[0]
    return stem.startswith("test_") or stem.endswith("_test") or ".test." in name


def _dependencies(where: str, base: Path, value: Any) -> list[str]:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value]
    if not isinstance(value, str):
        raise ManifestError(f"{where}: 'dependencies' must be a list of strings or a file")
    path = base / value
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError(f"{where}: cannot read dependencies {path}: {exc}") from None
    if path.name == "package.json":
        try:
            deps = json.loads(text).get("dependencies", {})
        except (ValueError, AttributeError) as exc:
            raise ManifestError(f"{where}: {path}: {exc}") from None
        return [f"{name}@{spec}" for name, spec in deps.items()]
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line]


def _environment(where: str, value: Any, environ: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ManifestError(f"{where}: 'environment' must be a table of strings")
    out = {}
    for key, raw in value.items():
        if not isinstance(raw, (str, int, float, bool)):
            raise ManifestError(f"{where}: environment.{key} must be a string")
        text = str(raw).lower() if isinstance(raw, bool) else str(raw)
        out[key] = _expand(f"{where}: environment.{key}", text, environ)
    return out


def _expand(where: str, text: str, environ: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        raise ManifestError(f"{where}: ${{{name}}} is not set in your environment")

    return _VAR.sub(one, text)


def _trigger(where: str, table: Any) -> TriggerSpec:
    if not isinstance(table, dict) or not isinstance(table.get("type"), str):
        raise ManifestError(f"{where}: needs a 'type' (http, cron or queue)")
    config = table.get("config", {})
    if not isinstance(config, dict):
        raise ManifestError(f"{where}: 'config' must be a table")
    config = {**config, **{k: v for k, v in table.items() if k not in _TRIGGER_KEYS}}
    kind = "cron" if table["type"] == "schedule" else str(table["type"])
    if kind == "cron" and "cron" in config and "schedule" not in config:
        config["schedule"] = config.pop("cron")
    if kind == "http" and "method" in config and "methods" not in config:
        config["methods"] = [config.pop("method")]
    enabled = table.get("enabled", True)
    name = table.get("name")
    if not isinstance(enabled, bool) or (name is not None and not isinstance(name, str)):
        raise ManifestError(f"{where}: 'enabled' must be true or false, 'name' a string")
    return TriggerSpec(type=kind, config=config, name=name, enabled=enabled)
