"""Validation of trigger bodies (http, cron, queue) into stored config, with clear 400s."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from config import Settings
from gateway.core.errors import InvalidRequest
from gateway.schemas.known_fields import reject_unknown
from triggers.cron_schedule import TriggerConfigError, parse_cron_config
from triggers.queue_config import QueueConfigError, parse_queue_config

__all__ = ["TriggerInput", "parse_trigger", "HTTP_METHODS"]

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_PATH_RE = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$")
_TYPES = {"http": "http", "cron": "cron", "schedule": "cron", "queue": "queue"}
_KEYS = ("type", "name", "enabled", "config")
_HTTP_KEYS = ("path", "methods", "method", "public")


@dataclass(frozen=True, slots=True, kw_only=True)
class TriggerInput:
    """A validated trigger: its type, name, enabled flag, config and (http) path."""

    type: str
    name: str | None
    enabled: bool
    config: dict[str, Any]
    http_path: str | None


def _bad(field: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"'{field}' {message}", details={"field": field})


def _http_config(config: dict[str, Any]) -> tuple[dict[str, Any], str]:
    reject_unknown(config, _HTTP_KEYS, where="config.")
    path = config.get("path")
    if not isinstance(path, str) or not _PATH_RE.fullmatch(path) or "//" in path:
        raise _bad("config.path", "must be an absolute URL path such as '/hello'")
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/")
    methods: Any = config.get("methods", config.get("method", ["GET", "POST"]))
    if isinstance(methods, str):
        methods = [methods]
    if not isinstance(methods, list) or not methods or not all(
        isinstance(m, str) and m.upper() in HTTP_METHODS for m in methods
    ):
        given = "config.methods" if "methods" in config or "method" not in config \
            else "config.method"
        raise _bad(given, f"must list methods among {', '.join(HTTP_METHODS)}")
    public = config.get("public", False)
    if not isinstance(public, bool):
        raise _bad("config.public", "must be a boolean")
    normalized = sorted({m.upper() for m in methods}, key=HTTP_METHODS.index)
    return {"path": path, "methods": normalized, "public": public}, path


def _cron_config(config: dict[str, Any]) -> dict[str, Any]:
    try:
        return parse_cron_config(config)
    except TriggerConfigError as exc:
        raise InvalidRequest(str(exc), details={"field": exc.field}) from exc


def _queue_config(config: dict[str, Any], settings: Settings, *, updating: bool
                  ) -> dict[str, Any]:
    # An existing queue trigger can still be changed (disabled…) where no broker is set.
    if not settings.amqp_url and not updating:
        raise InvalidRequest("queue triggers need a broker: set FNGATE_AMQP_URL on the gateway",
                             details={"field": "type"})
    try:
        return parse_queue_config(config)
    except QueueConfigError as exc:
        raise InvalidRequest(str(exc), details={"field": exc.field}) from exc


def parse_trigger(body: Any, settings: Settings, *, current_type: str | None = None
                  ) -> TriggerInput:
    """Validate a create body, or an update body merged over the current trigger."""
    if not isinstance(body, dict):
        raise InvalidRequest("a trigger must be a JSON object")
    reject_unknown(body, _KEYS)
    raw_type = body.get("type", current_type)
    # A string first: an object or array is not hashable, so not even looked up.
    if not isinstance(raw_type, str) or raw_type not in _TYPES:
        raise _bad("type", "must be one of http, cron (alias schedule), queue")
    kind = _TYPES[raw_type]
    if current_type is not None and kind != current_type:
        raise _bad("type", "cannot change; delete the trigger and create another")
    name = body.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > 200):
        raise _bad("name", "must be a string of at most 200 characters")
    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        raise _bad("enabled", "must be a boolean")
    config = body.get("config", {})
    if not isinstance(config, dict):
        raise _bad("config", "must be an object")
    http_path = None
    if kind == "http":
        config, http_path = _http_config(config)
    elif kind == "cron":
        config = _cron_config(config)
    else:
        config = _queue_config(config, settings, updating=current_type is not None)
    return TriggerInput(type=kind, name=name, enabled=enabled, config=config,
                        http_path=http_path)
