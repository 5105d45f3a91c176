"""Validation of function create/update bodies into column values, with clear 400s."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from config import Settings
from executors.models import NETWORKS
from gateway.core import quantities
from gateway.core.errors import InvalidRequest, InvalidRuntime
from gateway.core.projects import dependency_pattern
from gateway.schemas.known_fields import reject_unknown
from gateway.schemas.params import check_local_refs
from gateway.schemas.trigger_input import TriggerInput, parse_trigger

__all__ = ["FunctionInput", "parse_function", "normalize_runtime", "NAME_RE", "NAME_PATTERN",
           "PROJECT_NAME_RE", "PROJECT_NAME_PATTERN",
           "dependency_pattern", "ENV_KEY_RE", "MAX_CPU_MILLIS", "FUNCTION_FIELDS",
           "REFUSED_FIELDS"]

#: A function's name: Lambda's set, as the seeds write them (``myFunction``); unique
#: case-insensitively (0011_function_names.sql).
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]{0,63}$"
NAME_RE = re.compile(NAME_PATTERN)
#: A project's name (unchanged: lower case).
PROJECT_NAME_PATTERN = r"^[a-z][a-z0-9-]{0,62}$"
PROJECT_NAME_RE = re.compile(PROJECT_NAME_PATTERN)
ENV_KEY_RE = _ENV_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_HANDLER_RE = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
_PY_ALIAS = re.compile(r"^(python|py)(\d+(\.\d+)*)?$")
_NODE_ALIAS = re.compile(r"^(nodejs|node)(\d+(\.\d+)*(\.x)?)?$")
_LATER_RUNTIMES = ("go", "golang", "rust")

_DEFAULTS: dict[str, Any] = {
    "project": "default",
    "execution_type": "sync",
    "description": "",
    "environment": {},
    "timeout_ms": 30_000,
    "memory_mb": 256,
    "network": "egress",
    "ephemeral_storage_mb": 512,
    "cpu_millis": 1000,
    "max_concurrency": 10,
    "min_warm": 0,
    "cache_ttl": 3600,
    "cache_scope": "caller",
    "max_retries": 0,
    "rate_limit": None,
    "schema": None,
    "examples": [],
    "labels": {},
}
_ALIASES = {"maxReplicas": "max_concurrency", "minReplicas": "min_warm"}
#: Every field a create or update body may send: API.md's Function table and the input
#: aliases the seed documents use (``source_code``, ``resources``, ``minReplicas``,
#: ``maxReplicas``). Anything else is a 400 naming it.
FUNCTION_FIELDS = frozenset({
    "name", "runtime", "code", "source_code", "handler", "dependencies", "triggers",
    "project", "execution_type", "description", "environment", "labels", "timeout_ms",
    "memory_mb", "network", "ephemeral_storage_mb", "cpu_millis", "resources",
    "max_concurrency", "min_warm", "cache_ttl", "cache_scope", "max_retries", "rate_limit",
    "schema", "examples", *_ALIASES,
})
_READ_ONLY = "is set by the gateway and cannot be sent"
#: Fields a client may know (from our responses or a seed document) that a body cannot
#: set, with the reason the 400 gives.
REFUSED_FIELDS = {
    "image": "is not supported: custom images are not supported; send the source as "
             "'code' or 'source_code' (and packages as 'dependencies')",
    "secrets": "is not supported by this gateway yet: pass values in 'environment'",
    **{key: _READ_ONLY for key in (
        "id", "language", "title", "language_title", "endpoint", "status",
        "active_version", "secret_names", "created_at", "updated_at")},
}
MIN_MEMORY_MB = 16
MIN_EPHEMERAL_STORAGE_MB = 16
# A quota above the machine's cores is no limit at all, not an error; a fixed cap keeps
# what a body may say the same on every replica.
MIN_CPU_MILLIS, MAX_CPU_MILLIS = 10, 64_000


def normalize_runtime(value: Any) -> str:
    """Map an accepted alias (``python3.11``, ``node``, ``nodejs18`` …) to its family."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest("'runtime' must be a non-empty string", details={"field": "runtime"})
    text = value.strip().lower()
    if _PY_ALIAS.fullmatch(text):
        return "python"
    if _NODE_ALIAS.fullmatch(text):
        return "nodejs"
    if text in _LATER_RUNTIMES:
        raise InvalidRuntime(f"runtime '{value}' is not supported yet",
                             details={"supported": ["python", "nodejs"]})
    raise InvalidRuntime(f"unknown runtime '{value}'", details={"supported": ["python", "nodejs"]})


@dataclass(slots=True, kw_only=True)
class FunctionInput:
    """A validated body: in-place ``fields``, and the code parts when given."""

    name: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    code: str | None = None
    handler: str | None = None
    dependencies: list[str] | None = None
    triggers: list[TriggerInput] = field(default_factory=list)

    @property
    def changes_code(self) -> bool:
        return (
            self.code is not None
            or self.handler is not None
            or self.dependencies is not None
            or "runtime" in self.fields
        )


def _bad(field_name: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"'{field_name}' {message}", details={"field": field_name})


def _int(body: dict[str, Any], key: str, lo: int, hi: int) -> int:
    value = body[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(key, "must be an integer")
    if not lo <= value <= hi:
        raise _bad(key, f"must be between {lo} and {hi}")
    return value


def _str_map(body: dict[str, Any], key: str, key_re: re.Pattern[str] | None) -> dict[str, str]:
    value = body[key]
    if not isinstance(value, dict):
        raise _bad(key, "must be an object of strings")
    for k, v in value.items():
        if not isinstance(v, str):
            raise _bad(key, f"value of '{k}' must be a string")
        if key_re is not None and not key_re.fullmatch(k):
            raise _bad(key, f"has an invalid name '{k}'")
    return dict(value)


def _code(body: dict[str, Any]) -> str | None:
    if body.get("code") is not None and body.get("source_code") is not None:
        raise _bad("source_code", "cannot be given together with 'code'")
    if "code" in body and body["code"] is not None:
        if not isinstance(body["code"], str):
            raise _bad("code", "must be a string")
        return str(body["code"])
    if "source_code" in body and body["source_code"] is not None:
        raw = body["source_code"]
        if not isinstance(raw, str):
            raise _bad("source_code", "must be a base64 string")
        try:
            return base64.b64decode(raw, validate=True).decode("utf-8")
        # binascii.Error and UnicodeDecodeError are ValueErrors, and so is base64's own
        # refusal of a str with a non-ASCII character in it.
        except ValueError as exc:
            raise _bad("source_code", "is not valid base64 of UTF-8 text") from exc
    return None


def _examples(value: Any) -> list[dict[str, Any]]:
    """``[{"description", "request": {"params"}, "response": {"result"}}]``, each part
    optional: the shape the OpenAPI document promises every rendered Function has."""
    if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
        raise _bad("examples", "must be an array of objects")
    for index, example in enumerate(value):
        if "description" in example and not isinstance(example["description"], str):
            raise _bad(f"examples[{index}].description", "must be a string")
        for part in ("request", "response"):
            if part in example and not isinstance(example[part], dict):
                raise _bad(f"examples[{index}].{part}", "must be an object")
    return list(value)


def _handler(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise _bad("handler", "must be a non-empty string")
    name = value.rsplit(".", 1)[-1]
    if not _HANDLER_RE.fullmatch(name):
        raise _bad("handler", f"'{value}' does not name a function")
    return name


def _dependencies(value: Any, runtime: str | None) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad("dependencies", "must be an array of strings")
    pattern = dependency_pattern(runtime)
    for spec in value:
        if not pattern.fullmatch(spec.strip()):
            raise _bad("dependencies", f"has '{spec}': only package names and version ranges "
                       "are accepted (no options, URLs or paths)")
    if len(value) > 100:
        raise _bad("dependencies", "may list at most 100 packages")
    return [v.strip() for v in value]


def _schema(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not set(value) <= {"params", "result"}:
        raise _bad("schema", "must be an object with optional 'params' and 'result' JSON Schemas")
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    for part, sub in value.items():
        if not isinstance(sub, (dict, bool)):
            raise _bad("schema", f"'{part}' must be a JSON Schema object")
        try:
            Draft202012Validator.check_schema(sub)
            check_local_refs(sub, part)
        except SchemaError as exc:
            raise _bad("schema", f"'{part}' is not a valid JSON Schema: {exc.message}") from exc
        except RecursionError as exc:  # under the body's depth bound, deeper than it can check
            raise _bad("schema", f"'{part}' nests too deeply to be checked") from exc
    return dict(value)


def _rate_limit(value: Any) -> str | None:
    if value is None:
        return None
    from limits import parse

    if not isinstance(value, str):
        raise _bad("rate_limit", "must be a string such as '1000/minute' or null")
    try:
        parse(value)
    except ValueError as exc:
        raise _bad("rate_limit", f"'{value}' is not a rate such as '1000/minute'") from exc
    return value


def _quantity(field_name: str, value: Any, parse: Callable[[object], int], lo: int, hi: int,
              unit: str) -> int:
    try:
        amount = parse(value)
    except ValueError as exc:
        raise _bad(field_name, str(exc)) from exc
    if not lo <= amount <= hi:
        raise _bad(field_name, f"must be between {lo}{unit} and {hi}{unit}")
    return amount


def _alias(f: dict[str, Any], column: str, field_name: str, value: int, unit: str) -> None:
    """Set ``column`` from its alias ``field_name``; given both, they must agree."""
    if column in f and f[column] != value:
        raise _bad(field_name, f"is {value}{unit}, which disagrees with '{column}' ({f[column]})")
    f[column] = value


def _resources(raw: Any, settings: Settings, f: dict[str, Any]) -> None:
    """``resources`` (``{"cpu": "100m", "memory": "256Mi"}``): aliases of ``cpu_millis``
    and ``memory_mb``, so parsed after them."""
    if not isinstance(raw, dict):
        raise _bad("resources", "must be an object such as {\"cpu\": \"100m\", "
                                "\"memory\": \"256Mi\"}")
    for key in raw:
        if key not in ("cpu", "memory"):
            raise _bad(f"resources.{key}", "is not a resource: only 'cpu' and 'memory' are")
    if "cpu" in raw:
        millis = _quantity("resources.cpu", raw["cpu"], quantities.cpu_millis,
                           MIN_CPU_MILLIS, MAX_CPU_MILLIS, "m")
        _alias(f, "cpu_millis", "resources.cpu", millis, "m")
    if "memory" in raw:
        mib = _quantity("resources.memory", raw["memory"], quantities.memory_mib,
                        MIN_MEMORY_MB, settings.max_memory_mb, "Mi")
        _alias(f, "memory_mb", "resources.memory", mib, "Mi")


def _sandbox(body: dict[str, Any], settings: Settings, f: dict[str, Any]) -> None:
    """The worker's sandbox profile and limits: network, storage, CPU and memory."""
    if "memory_mb" in body:
        f["memory_mb"] = _int(body, "memory_mb", MIN_MEMORY_MB, settings.max_memory_mb)
    if "network" in body:
        if not isinstance(body["network"], str) or body["network"] not in NETWORKS:
            raise _bad("network", "must be 'egress' or 'none'")
        f["network"] = body["network"]
    if "ephemeral_storage_mb" in body:
        f["ephemeral_storage_mb"] = _int(body, "ephemeral_storage_mb", MIN_EPHEMERAL_STORAGE_MB,
                                         settings.max_ephemeral_storage_mb)
    if "cpu_millis" in body:
        f["cpu_millis"] = _int(body, "cpu_millis", MIN_CPU_MILLIS, MAX_CPU_MILLIS)
    if body.get("resources") is not None:
        _resources(body["resources"], settings, f)


MAX_TRIGGERS_ON_CREATE = 20


def _triggers(raw: Any, settings: Settings) -> list[TriggerInput]:
    """The ``triggers`` of a create body, each validated as its own create would be."""
    if not isinstance(raw, list) or len(raw) > MAX_TRIGGERS_ON_CREATE:
        raise _bad("triggers", f"must be an array of at most {MAX_TRIGGERS_ON_CREATE} triggers")
    parsed = []
    paths: set[str] = set()
    for index, item in enumerate(raw):
        try:
            trigger = parse_trigger(item, settings)
        except InvalidRequest as exc:
            field_name = f"triggers[{index}]"
            inner = (exc.details or {}).get("field")
            raise InvalidRequest(f"{field_name}: {exc.message}", details={
                "field": f"{field_name}.{inner}" if inner else field_name}) from exc
        if trigger.http_path is not None:
            if trigger.http_path in paths:
                raise _bad(f"triggers[{index}]",
                           f"repeats the path '{trigger.http_path}' of another trigger")
            paths.add(trigger.http_path)
        parsed.append(trigger)
    return parsed


def parse_function(body: Any, settings: Settings, *, creating: bool,
                   current_runtime: str | None = None) -> FunctionInput:
    """Validate a create (all required fields) or update (every field optional) body."""
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object")
    reject_unknown(body, FUNCTION_FIELDS, refused=REFUSED_FIELDS)
    for alias, column in _ALIASES.items():
        if alias in body and column in body and body[alias] != body[column]:
            raise _bad(alias, f"disagrees with '{column}' (it is an alias of it)")
    body = {_ALIASES.get(k, k): v for k, v in body.items()}
    out = FunctionInput()
    if creating:
        for required in ("name", "runtime"):
            if body.get(required) is None:
                raise _bad(required, "is required")
        if body.get("code") is None and body.get("source_code") is None:
            raise _bad("code", "is required (or 'source_code', base64)")
    if "name" in body:
        if not isinstance(body["name"], str) or not NAME_RE.fullmatch(body["name"]):
            raise _bad("name", f"must match {NAME_PATTERN}")
        out.name = body["name"]
    if "runtime" in body:
        out.fields["runtime"] = normalize_runtime(body["runtime"])
    runtime = out.fields.get("runtime", current_runtime)
    out.code = _code(body)
    if "handler" in body:
        out.handler = _handler(body["handler"])
    if "dependencies" in body and body["dependencies"] is not None:
        out.dependencies = _dependencies(body["dependencies"], runtime)
    if body.get("triggers") is not None:
        if not creating:
            raise _bad("triggers", "are managed under /api/v1/functions/{ref}/triggers"
                                   " once the function exists")
        out.triggers = _triggers(body["triggers"], settings)
    f = out.fields
    if "project" in body:
        if not isinstance(body["project"], str) or not PROJECT_NAME_RE.fullmatch(body["project"]):
            raise _bad("project", f"must match {PROJECT_NAME_PATTERN}")
        f["project"] = body["project"]
    if "execution_type" in body:
        if body["execution_type"] not in ("sync", "async"):
            raise _bad("execution_type", "must be 'sync' or 'async'")
        f["execution_type"] = body["execution_type"]
    if "description" in body:
        if not isinstance(body["description"], str):
            raise _bad("description", "must be a string")
        f["description"] = body["description"]
    if "environment" in body:
        f["environment"] = _str_map(body, "environment", _ENV_KEY_RE)
    if "labels" in body:
        f["labels"] = _str_map(body, "labels", None)
    if "timeout_ms" in body:
        f["timeout_ms"] = _int(body, "timeout_ms", 1, settings.max_timeout_ms)
    _sandbox(body, settings, f)
    if "max_concurrency" in body:
        f["max_concurrency"] = _int(body, "max_concurrency", 1, 1000)
    if "min_warm" in body:
        f["min_warm"] = _int(body, "min_warm", 0, 100)
    if "cache_ttl" in body:
        f["cache_ttl"] = _int(body, "cache_ttl", 0, 30 * 86400)
    if "cache_scope" in body:
        if body["cache_scope"] not in ("caller", "shared"):
            raise _bad("cache_scope", "must be 'caller' or 'shared'")
        f["cache_scope"] = body["cache_scope"]
    if "max_retries" in body:
        f["max_retries"] = _int(body, "max_retries", 0, 20)
    if "rate_limit" in body:
        f["rate_limit"] = _rate_limit(body["rate_limit"])
    if "schema" in body:
        f["schema"] = _schema(body["schema"])
    if "examples" in body:
        f["examples"] = _examples(body["examples"])
    if creating:
        for key, default in _DEFAULTS.items():
            f.setdefault(key, default)
    if f.get("min_warm", 0) > f.get("max_concurrency", 1000):
        raise _bad("min_warm", "cannot exceed max_concurrency")
    return out
