"""``/api/v1/functions``: the function catalog and its management."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import MISSING
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from auth import Principal, can_manage, has_scope
from auth.scopes import ADMIN, READ_FUNCTIONS, WRITE_FUNCTIONS
from gateway.api.context import Services, services_of
from gateway.api.operations import Form, Reply, operation, routes_of
from gateway.api.responses import JSONResponse
from gateway.api.routes._body import has_nul, query_int, read_json, refuse_nul
from gateway.api.routes._lookup import (
    function_not_found,
    load_function,
    render_trigger,
    show_function,
)
from gateway.api.security import authenticate, require_scope
from gateway.core.errors import Forbidden, InvalidRequest
from gateway.schemas.base import render
from gateway.schemas.function_input import normalize_runtime
from gateway.schemas.function_view import Function, FunctionCreated, FunctionList
from gateway.schemas.functions import (
    FORM_INTEGER_FIELDS,
    FORM_JSON_FIELDS,
    FunctionCreate,
    FunctionForm,
    FunctionUpdate,
)
from gateway.schemas.json_depth import loads_bounded
from gateway.schemas.validation import parse
from gateway.services import audit
from gateway.store.functions import NewVersion, VersionChange
from gateway.store.triggers import TriggerRecord, TriggerStore

__all__ = ["READ_NOTE", "READ_SCOPES", "WRITE_NOTE", "WRITE_SCOPES", "routes"]

READ_SCOPES = [READ_FUNCTIONS, WRITE_FUNCTIONS, ADMIN]
WRITE_SCOPES = [WRITE_FUNCTIONS, ADMIN]
READ_NOTE = "Needs `read:functions`, `write:functions` or `admin`. "
WRITE_NOTE = "Needs `write:functions` or `admin`. "

_FORM = Form(FunctionForm, FORM_JSON_FIELDS)
_LOCATION = ("Location", "FunctionLocation")


def _query(name: str, schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description, **extra}


_LIST_PARAMETERS = [
    _query("page", {"type": "integer", "minimum": 1, "maximum": 1000000, "default": 1},
           "1-based page number."),
    _query("per_page", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
           "Page size."),
    _query("project", {"type": "string"}, "Only functions of this project."),
    _query("language", {"type": "string", "examples": ["python", "nodejs"]},
           "Only functions of this runtime family; aliases are accepted, an unknown one → 400 "
           "`INVALID_RUNTIME`."),
    _query("label", {"type": "array", "items": {"type": "string", "pattern": "^[^:]+:.*$"}},
           "`key:value`; repeat for several labels (all must match).",
           style="form", explode=True),
]


def _require_read(principal: Principal) -> None:
    if not (has_scope(principal, READ_FUNCTIONS) or can_manage(principal)):
        raise Forbidden("this needs the 'read:functions' scope",
                        details={"required_scope": READ_FUNCTIONS})


@operation(
    "GET", "/api/v1/functions", operation_id="listFunctions", tag="functions",
    summary="List functions",
    description=READ_NOTE + "Functions without `code`, ordered by the store, one page at a "
                "time.",
    scopes=READ_SCOPES, parameters=_LIST_PARAMETERS, errors=[400],
    replies={200: Reply("A page of functions.", FunctionList)},
)
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
    return JSONResponse(render(FunctionList(
        total=total, page=page, per_page=per_page,
        functions=[show_function(f, principal, include_code=False) for f in functions])))


async def _read_function_body(request: Request) -> Any:
    """The JSON body, or a multipart form decoded to the same shape (integers from decimal
    text, JSON fields parsed, ``requirements`` as ``dependencies``)."""
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
                body[key] = _form_value(key, value)
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


def _form_value(key: str, value: str) -> Any:
    if key in FORM_JSON_FIELDS:
        try:
            parsed = loads_bounded(value.encode(), what=f"form field '{key}'")
        except orjson.JSONDecodeError as exc:
            raise InvalidRequest(f"form field '{key}' must be JSON",
                                 details={"field": key}) from exc
        refuse_nul(parsed, f"form field '{key}'", {"field": key})
        return parsed
    if key in FORM_INTEGER_FIELDS:
        try:
            return int(value)
        except ValueError as exc:
            raise InvalidRequest(f"'{key}' must be an integer", details={"field": key}) from exc
    return value


def _context(services: Services, runtime: str | None = None) -> dict[str, Any]:
    """What a body's validators read: the limits, and the runtime its dependencies follow."""
    return {"settings": services.settings, "runtime": runtime}


@operation(
    "POST", "/api/v1/functions", operation_id="createFunction", tag="functions",
    summary="Create a function",
    description=WRITE_NOTE + "Creates the function and its version 1. With `dependencies` the "
                "response has `status: \"building\"` and the build runs in the background; "
                "invokes answer 409 until it succeeds (`failed` if it does not). `triggers` are "
                "created with it, in the same transaction. Unknown body fields → 400 naming "
                "them.",
    scopes=WRITE_SCOPES, body=FunctionCreate, form=_FORM, errors=[409],
    replies={201: Reply("Created (with `triggers` when the body had some).", FunctionCreated,
                        headers=(_LOCATION,))},
)
async def create_function(request: Request) -> Response:
    principal = await authenticate(request)
    require_scope(principal, WRITE_FUNCTIONS)
    services = services_of(request)
    body = parse(FunctionCreate, await _read_function_body(request),
                 context=_context(services))
    source = body.source
    assert source is not None  # the model requires one
    version = NewVersion(runtime=body.runtime, code=source, handler=body.handler,
                         dependencies=body.dependencies or [])
    fields = body.columns()
    created: list[TriggerRecord] = []

    async def add_triggers(conn: Any, function_id: int) -> None:
        for t in body.nested_triggers:
            created.append(await TriggerStore.insert_on(
                conn, function_id, name=t.name, type=t.type, enabled=t.enabled,
                config=t.config, http_path=t.http_path))

    record = audit.function_created(body.name, version.runtime, principal.subject,
                                    building=version.needs_build, triggers=lambda: created)

    async def add_triggers_and_record(conn: Any, function_id: int) -> None:
        await add_triggers(conn, function_id)
        await record(conn, function_id)

    function_id = await services.functions.create(body.name, fields, version,
                                                  also=add_triggers_and_record)
    if version.needs_build:
        services.builds.schedule(function_id, 1, version.runtime, version.dependencies,
                                 actor=principal.subject)
    else:  # its project's or the system's dependencies, if any, are built in the background
        await services.builds.follow_layers(function_id)
    function = await services.functions.get_by_id(function_id)
    assert function is not None
    await services.webhooks.function_created(function)
    shown = FunctionCreated(**dict(show_function(function, principal)), triggers=(
        [render_trigger(t) for t in created] if body.nested_triggers else MISSING))
    return JSONResponse(render(shown), status_code=201,
                        headers={"Location": f"/api/v1/functions/{function.name}"})


@operation(
    "GET", "/api/v1/functions/{ref}", operation_id="getFunction", tag="functions",
    summary="Get a function",
    description="Needs `read:functions`, `write:functions` or `admin`; environment values are "
                "`\"***\"` unless the caller has `write:functions` or `admin`.",
    scopes=READ_SCOPES, parameters=["ref"], errors=[404],
    replies={200: Reply("The function.", Function)},
)
async def get_function(request: Request) -> Response:
    principal = await authenticate(request)
    _require_read(principal)
    function = await load_function(services_of(request), request.path_params["ref"])
    return JSONResponse(render(show_function(function, principal)))


def _version_change(body: FunctionUpdate) -> VersionChange | None:
    if not body.changes_code:
        return None
    return VersionChange(
        runtime=None if body.runtime is MISSING else body.runtime, code=body.source,
        handler=body.handler if "handler" in body.model_fields_set else None,
        dependencies=body.dependencies,
    )


@operation(
    "PUT", "/api/v1/functions/{ref}", operation_id="updateFunction", tag="functions",
    summary="Update a function",
    description=WRITE_NOTE + "Every field optional; a change to the code, handler, runtime or "
                "dependencies creates a new version and activates it (after its build, when it "
                "has dependencies); warm workers are dropped. Non-null `triggers` → 400 "
                "(manage them under `…/triggers`). Unknown body fields → 400 naming them.",
    scopes=WRITE_SCOPES, parameters=["ref"], body=FunctionUpdate, form=_FORM,
    errors=[404, 409],
    replies={200: Reply("The updated function.", Function)},
)
async def update_function(request: Request) -> Response:
    principal = await authenticate(request)
    require_scope(principal, WRITE_FUNCTIONS)
    services = services_of(request)
    ref = request.path_params["ref"]
    current = await load_function(services, ref)
    body = parse(FunctionUpdate, await _read_function_body(request),
                 context=_context(services, current.runtime))
    rename = body.name if body.name not in (MISSING, current.name) else None
    change = _version_change(body)
    record = audit.function_updated(current.id, rename or current.name, principal.subject,
                                    fields=body.sent())
    exists, number, version = await services.functions.update(
        current.id, body.columns(), change, rename=rename, also=record
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
    return JSONResponse(render(show_function(function, principal)))


@operation(
    "DELETE", "/api/v1/functions/{ref}", operation_id="deleteFunction", tag="functions",
    summary="Delete a function",
    description=WRITE_NOTE + "Removes its versions and warm workers; its jobs stay readable by "
                "id until retention removes them.",
    scopes=WRITE_SCOPES, parameters=["ref"], errors=[404],
    replies={204: Reply("Deleted.")},
)
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


routes = routes_of(list_functions, create_function, get_function, update_function,
                   delete_function)
