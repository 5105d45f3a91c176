"""``/api/v1/functions``: the function catalog and its management."""

from __future__ import annotations

from typing import Any

from pydantic import MISSING
from starlette.requests import Request
from starlette.responses import Response

from auth.scopes import ADMIN, READ_FUNCTIONS, WRITE_FUNCTIONS
from gateway.api.context import Services, services_of
from gateway.api.operations import Form, Reply, operation, routes_of
from gateway.api.responses import JSONResponse
from gateway.api.routes._body import query_int
from gateway.api.routes._function_body import read_function_body
from gateway.api.routes._lookup import load_function, render_trigger, show_function
from gateway.api.security import (
    CATALOG_READERS,
    authenticate,
    require_catalog_read,
    require_scope,
)
from gateway.core.errors import InvalidRequest
from gateway.schemas.function_input import normalize_runtime
from gateway.schemas.function_view import Function, FunctionCreated, FunctionList
from gateway.schemas.functions import (
    FORM_JSON_FIELDS,
    FunctionCreate,
    FunctionForm,
    FunctionUpdate,
)
from gateway.schemas.validation import parse

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
    require_catalog_read(principal, somewhere=True)
    page = query_int(request, "page", 1, 1, 1_000_000)
    per_page = query_int(request, "per_page", 20, 1, 100)
    total, functions = await services_of(request).functions.list_page(
        project=request.query_params.get("project") or None, language=_language(request),
        labels=_labels(request), page=page, per_page=per_page,
        within=principal.projects_for(*CATALOG_READERS),
    )
    return JSONResponse(FunctionList(
        total=total, page=page, per_page=per_page,
        functions=[show_function(f, principal, include_code=False) for f in functions]))


def _language(request: Request) -> str | None:
    """The ``language`` filter as its runtime family (an alias resolved)."""
    language = request.query_params.get("language") or None
    return None if language is None else normalize_runtime(language)


def _labels(request: Request) -> dict[str, str]:
    """The ``label`` filters (``key:value``, repeated)."""
    labels: dict[str, str] = {}
    for raw in request.query_params.getlist("label"):
        key, sep, value = raw.partition(":")
        if not sep or not key:
            raise InvalidRequest("query parameter 'label' must look like key:value",
                                 details={"parameter": "label"})
        labels[key] = value
    return labels


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
    require_scope(principal, WRITE_FUNCTIONS, somewhere=True)
    services = services_of(request)
    body = parse(FunctionCreate, await read_function_body(request), context=_context(services))
    require_scope(principal, WRITE_FUNCTIONS, body.project)
    created = await services.function_service.create(body, actor=principal)
    shown = FunctionCreated(**dict(show_function(created.function, principal)), triggers=(
        [render_trigger(t) for t in created.triggers] if body.nested_triggers else MISSING))
    return JSONResponse(shown, status_code=201,
                        headers={"Location": f"/api/v1/functions/{created.function.name}"})


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
    function = await load_function(services_of(request), request.path_params["ref"], principal,
                                   *CATALOG_READERS)
    return JSONResponse(show_function(function, principal))


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
    services = services_of(request)
    current = await load_function(services, request.path_params["ref"], principal,
                                  WRITE_FUNCTIONS)
    body = parse(FunctionUpdate, await read_function_body(request),
                 context=_context(services, current.runtime))
    if "project" in body.model_fields_set:  # a move needs the scope where it goes too
        require_scope(principal, WRITE_FUNCTIONS, body.project)
    function = await services.function_service.update(current, body, actor=principal)
    return JSONResponse(show_function(function, principal))


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
    services = services_of(request)
    function = await load_function(services, request.path_params["ref"], principal,
                                   WRITE_FUNCTIONS)
    await services.function_service.delete(function, actor=principal)
    return Response(status_code=204)


routes = routes_of(list_functions, create_function, get_function, update_function,
                   delete_function)
