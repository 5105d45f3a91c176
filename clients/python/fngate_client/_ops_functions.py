"""Calls of the function catalog: functions, versions, rollback and triggers."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
from pydantic import Field, TypeAdapter

from fngate_client._calls import Call, as_model, nothing, segment
from fngate_client.models import (
    CronTrigger,
    Function,
    FunctionCreated,
    FunctionList,
    HttpTrigger,
    QueueTrigger,
    Version,
    VersionList,
)

__all__ = ["AnyTrigger", "activate_version", "create_function", "create_trigger",
           "create_version", "delete_function", "delete_trigger", "get_function",
           "get_trigger", "list_functions", "list_triggers", "list_versions", "rollback",
           "update_function", "update_trigger"]

#: A trigger as the API answers it, by its ``type``.
AnyTrigger = Annotated[HttpTrigger | CronTrigger | QueueTrigger, Field(discriminator="type")]
_TRIGGER: TypeAdapter[AnyTrigger] = TypeAdapter(AnyTrigger)
_TRIGGERS: TypeAdapter[list[AnyTrigger]] = TypeAdapter(list[AnyTrigger])

Ref = str | int


def _fn(ref: Ref, *rest: str | int) -> str:
    return "/".join(["/api/v1/functions", segment(ref), *(segment(p) for p in rest)])


def _body(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def _trigger(response: httpx.Response) -> AnyTrigger:
    return _TRIGGER.validate_json(response.content)


def _triggers(response: httpx.Response) -> list[AnyTrigger]:
    return _TRIGGERS.validate_python(response.json()["triggers"])


def list_functions(*, project: str | None = None, language: str | None = None,
                   label: str | None = None, page: int | None = None,
                   per_page: int | None = None) -> Call[FunctionList]:
    """One page of the functions the caller may see (``label`` as ``key:value``)."""
    return Call("GET", "/api/v1/functions", as_model(FunctionList),
                params={"project": project, "language": language, "label": label,
                        "page": page, "per_page": per_page})


def create_function(name: str, runtime: str, code: str | None = None, *,
                    handler: str | None = None, **fields: Any) -> Call[FunctionCreated]:
    """Create a function; ``fields`` are the API's other fields (``dependencies``,
    ``environment``, ``timeout_ms``, ``triggers``, ``source_code`` as base64, …)."""
    body = _body({"name": name, "runtime": runtime, "code": code, "handler": handler,
                  **fields})
    return Call("POST", "/api/v1/functions", as_model(FunctionCreated), json=body)


def get_function(function_id: Ref) -> Call[Function]:
    """The function ``function_id``: its id, name or ``language_title``."""
    return Call("GET", _fn(function_id), as_model(Function))


def update_function(function_id: Ref, **fields: Any) -> Call[Function]:
    """Change fields of a function; a change of ``code``, ``handler``, ``runtime`` or
    ``dependencies`` makes a new version (activated once built)."""
    return Call("PUT", _fn(function_id), as_model(Function), json=fields)


def delete_function(function_id: Ref) -> Call[None]:
    """Delete a function with its versions and triggers (its jobs stay readable)."""
    return Call("DELETE", _fn(function_id), nothing)


def list_versions(function_id: Ref) -> Call[list[Version]]:
    """The function's versions, newest first."""
    return Call("GET", _fn(function_id, "versions"), as_model(VersionList, "versions"))


def create_version(function_id: Ref, *, code: str | None = None, handler: str | None = None,
                   dependencies: list[str] | None = None,
                   activate: bool | None = None) -> Call[Version]:
    """Add a version (activated at once with ``activate=True``, once built)."""
    body = _body({"code": code, "handler": handler, "dependencies": dependencies,
                  "activate": activate})
    return Call("POST", _fn(function_id, "versions"), as_model(Version), json=body)


def activate_version(function_id: Ref, version: int) -> Call[Function]:
    """Make version number ``version`` the active one (409 while building or failed)."""
    return Call("PUT", _fn(function_id, "versions", version, "active"), as_model(Function))


def rollback(function_id: Ref) -> Call[Function]:
    """Activate the highest successfully built version below the active one."""
    return Call("POST", _fn(function_id, "rollback"), as_model(Function))


def list_triggers(function_id: Ref) -> Call[list[AnyTrigger]]:
    """The function's triggers."""
    return Call("GET", _fn(function_id, "triggers"), _triggers)


def get_trigger(function_id: Ref, trigger_id: int) -> Call[AnyTrigger]:
    """One trigger of the function."""
    return Call("GET", _fn(function_id, "triggers", trigger_id), _trigger)


def create_trigger(function_id: Ref, type: str, config: dict[str, Any], *,
                   name: str | None = None, enabled: bool | None = None) -> Call[AnyTrigger]:
    """Add an ``http``, ``cron`` or ``queue`` trigger with its ``config``."""
    body = _body({"type": type, "config": config, "name": name, "enabled": enabled})
    return Call("POST", _fn(function_id, "triggers"), _trigger, json=body)


def update_trigger(function_id: Ref, trigger_id: int, **fields: Any) -> Call[AnyTrigger]:
    """Change a trigger's ``name``, ``enabled`` or ``config``."""
    return Call("PUT", _fn(function_id, "triggers", trigger_id), _trigger, json=fields)


def delete_trigger(function_id: Ref, trigger_id: int) -> Call[None]:
    """Remove a trigger."""
    return Call("DELETE", _fn(function_id, "triggers", trigger_id), nothing)
