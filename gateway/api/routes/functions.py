"""``/api/v1/functions``: the function catalog and its management."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from auth import Principal, can_manage, has_scope
from auth.scopes import READ_FUNCTIONS, WRITE_FUNCTIONS
from gateway.api.context import services_of
from gateway.api.responses import JSONResponse
from gateway.api.routes._body import has_nul, query_int, read_json, refuse_nul
from gateway.api.routes._lookup import function_not_found, load_function, render_trigger
from gateway.api.routes._methods import methods_route
from gateway.api.security import authenticate, require_scope
from gateway.core.errors import Forbidden, InvalidRequest
from gateway.core.models import FunctionRecord
from gateway.schemas.function_input import FunctionInput, normalize_runtime, parse_function
from gateway.schemas.json_depth import loads_bounded
from gateway.services import audit
from gateway.store.functions import NewVersion, VersionChange
from gateway.store.triggers import TriggerRecord, TriggerStore

__all__ = ["routes"]


def _require_read(principal: Principal) -> None:
    if not (has_scope(principal, READ_FUNCTIONS) or can_manage(principal)):
        raise Forbidden("this needs the 'read:functions' scope",
                        details={"required_scope": READ_FUNCTIONS})


def _render(function: FunctionRecord, principal: Principal, *, include_code: bool = True) -> Any:
    return function.to_api(reveal_environment=can_manage(principal), include_code=include_code)


async def list_functions(request: Request) -> Response:
    principal = await authenticate(request)
    _require_read(principal)
    services = services_of(request)
    page = query_int(request, "page", 1, 1, 1_000_000)
    per_page = query_int(request, "per_page", 20, 1, 100)
    language = request.query_params.get("language") or None
    if language is not None:
        language = normalize_runtime(language)
    labels: dict[str, str] = {}
    for raw in request.query_params.getlist("label"):
        key, sep, value = raw.partition(":")
        if not sep or not key:
            raise InvalidRequest("query parameter 'label' must look like key:value",
                                 details={"parameter": "label"})
        labels[key] = value
    total, functions = await services.functions.list_page(
        project=request.query_params.get("project") or None, language=language,
        labels=labels, page=page, per_page=per_page,
    )
    return JSONResponse({
        "total": total, "page": page, "per_page": per_page,
        "functions": [_render(f, principal, include_code=False) for f in functions],
    })


async def _read_function_body(request: Request) -> Any:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        return await read_json(request)
    body: dict[str, Any] = {}
    async with request.form() as form:
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                try:
                    text = (await value.read()).decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise InvalidRequest(f"uploaded file '{key}' is not UTF-8 text",
                                         details={"field": key}) from exc
                if has_nul(text):
                    raise InvalidRequest(f"uploaded file '{key}' contains a NUL character",
                                         details={"field": key})
                body[key] = text
            else:
                if has_nul(value):
                    raise InvalidRequest(f"form field '{key}' contains a NUL character",
                                         details={"field": key})
                body[key] = value if key == "requirements" else _form_value(key, value)
    if "requirements" in body:
        if "dependencies" in body:
            raise InvalidRequest("give either 'requirements' or 'dependencies', not both",
                                 details={"field": "requirements"})
        body["dependencies"] = _requirement_lines(body.pop("requirements"))
    return body


def _requirement_lines(text: str) -> list[str]:
    """A requirements file (an upload or a text field): one specifier a line, # comments."""
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.strip().startswith("#")]


_FORM_JSON = {"environment", "labels", "schema", "examples", "dependencies", "triggers",
              "resources"}
_FORM_INT = {"timeout_ms", "memory_mb", "ephemeral_storage_mb", "cpu_millis",
             "max_concurrency", "min_warm", "cache_ttl", "max_retries", "maxReplicas",
             "minReplicas"}


def _form_value(key: str, value: str) -> Any:
    if key in _FORM_JSON:
        try:
            parsed = loads_bounded(value.encode(), what=f"form field '{key}'")
        except orjson.JSONDecodeError as exc:
            raise InvalidRequest(f"form field '{key}' must be JSON",
                                 details={"field": key}) from exc
        refuse_nul(parsed, f"form field '{key}'", {"field": key})
        return parsed
    if key in _FORM_INT:
        try:
            return int(value)
        except ValueError as exc:
            raise InvalidRequest(f"'{key}' must be an integer", details={"field": key}) from exc
    return value


async def create_function(request: Request) -> Response:
    principal = await authenticate(request)
    require_scope(principal, WRITE_FUNCTIONS)
    services = services_of(request)
    body = await _read_function_body(request)
    parsed = parse_function(body, services.settings, creating=True)
    assert parsed.name is not None and parsed.code is not None
    version = NewVersion(
        runtime=parsed.fields["runtime"], code=parsed.code, handler=parsed.handler or "handler",
        dependencies=parsed.dependencies or [],
    )
    created: list[TriggerRecord] = []

    async def add_triggers(conn: Any, function_id: int) -> None:
        for t in parsed.triggers:
            created.append(await TriggerStore.insert_on(
                conn, function_id, name=t.name, type=t.type, enabled=t.enabled,
                config=t.config, http_path=t.http_path))

    record = audit.function_created(parsed.name, version.runtime, principal.subject,
                                    building=version.needs_build, triggers=lambda: created)

    async def add_triggers_and_record(conn: Any, function_id: int) -> None:
        await add_triggers(conn, function_id)
        await record(conn, function_id)

    function_id = await services.functions.create(parsed.name, parsed.fields, version,
                                                  also=add_triggers_and_record)
    if version.needs_build:
        services.builds.schedule(function_id, 1, version.runtime, version.dependencies,
                                 actor=principal.subject)
    else:  # its project's or the system's dependencies, if any, are built in the background
        await services.builds.follow_layers(function_id)
    function = await services.functions.get_by_id(function_id)
    assert function is not None
    await services.webhooks.function_created(function)
    body = _render(function, principal)
    if parsed.triggers:
        body["triggers"] = [render_trigger(t) for t in created]
    return JSONResponse(body, status_code=201,
                        headers={"Location": f"/api/v1/functions/{function.name}"})


async def get_function(request: Request) -> Response:
    principal = await authenticate(request)
    _require_read(principal)
    function = await load_function(services_of(request), request.path_params["ref"])
    return JSONResponse(_render(function, principal))


def _sent_fields(parsed: FunctionInput) -> set[str]:
    """The fields an update sent (for its audit event)."""
    sent = set(parsed.fields)
    for name, value in (("name", parsed.name), ("code", parsed.code),
                        ("handler", parsed.handler), ("dependencies", parsed.dependencies)):
        if value is not None:
            sent.add(name)
    return sent


def _version_change(parsed: FunctionInput) -> VersionChange | None:
    if not parsed.changes_code:
        return None
    return VersionChange(
        runtime=parsed.fields.get("runtime"), code=parsed.code, handler=parsed.handler,
        dependencies=parsed.dependencies,
    )


async def update_function(request: Request) -> Response:
    principal = await authenticate(request)
    require_scope(principal, WRITE_FUNCTIONS)
    services = services_of(request)
    ref = request.path_params["ref"]
    current = await load_function(services, ref)
    body = await _read_function_body(request)
    parsed = parse_function(body, services.settings, creating=False,
                            current_runtime=current.runtime)
    rename = parsed.name if parsed.name not in (None, current.name) else None
    change = _version_change(parsed)
    record = audit.function_updated(current.id, rename or current.name, principal.subject,
                                    fields=_sent_fields(parsed))
    exists, number, version = await services.functions.update(
        current.id, parsed.fields, change, rename=rename, also=record
    )
    if not exists:
        raise function_not_found(ref)
    if rename is not None:
        services.metrics.forget_function(current.name)
    if version is not None and number is not None and version.needs_build:
        services.builds.schedule(current.id, number, version.runtime, version.dependencies,
                                 actor=principal.subject)
    await services.pools.drop_function(current.id)
    # A new version without a build of its own, or a move to another project: its layers.
    await services.builds.follow_layers(current.id)
    function = await services.functions.get_by_id(current.id)
    if function is None:
        raise function_not_found(ref)
    if version is not None and not version.needs_build:
        await services.webhooks.function_event("function.deployed", function, version=number)
    return JSONResponse(_render(function, principal))


async def delete_function(request: Request) -> Response:
    principal = await authenticate(request)
    require_scope(principal, WRITE_FUNCTIONS)
    services = services_of(request)
    function = await load_function(services, request.path_params["ref"])
    await services.functions.delete(
        function.id, also=audit.function_deleted(function.id, function.name, principal.subject))
    services.metrics.forget_function(function.name)
    await services.pools.drop_function(function.id)
    await services.cache.drop_function(function.id)
    await services.webhooks.function_event("function.deleted", function)
    return Response(status_code=204)


routes = [
    methods_route("/api/v1/functions", {"GET": list_functions, "POST": create_function}),
    methods_route("/api/v1/functions/{ref}", {
        "GET": get_function, "PUT": update_function, "DELETE": delete_function,
    }),
]
