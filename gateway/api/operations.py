"""Routes declared once with what the OpenAPI document says of them.

An endpoint is decorated with :func:`operation` (method, path, scopes, request and
response models, errors); :func:`routes_of` turns decorated endpoints into Starlette
routes (one per path, so a 405 lists every method), and :mod:`gateway.api.openapi`
reads the same declarations to write the document. Adding a route or a field therefore
touches one place.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from gateway.api.routes._methods import methods_route

__all__ = ["JSON", "Endpoint", "Form", "Operation", "Reply", "Status", "Text",
           "declared_operations", "operation", "operation_of", "routes_of"]

Endpoint = Callable[[Request], Awaitable[Response]]

JSON = "application/json"

#: A response's status, or ``"default"``: any status the others do not name (what an HTTP
#: trigger's function chooses).
Status = int | Literal["default"]


@dataclass(frozen=True)
class Text:
    """A body of text rather than JSON (a string in the document): its media type, what it
    holds, and for a stream of Server-Sent Events the model of each event's data."""

    media_type: str
    description: str = ""
    events: type[BaseModel] | None = None


@dataclass(frozen=True)
class Reply:
    """A response: its description, JSON body model (None: no JSON body), a text body
    instead of or beside it, and its headers: names in ``components/headers``, or
    ``(header, component)`` pairs where the component has another name
    (``("Location", "FunctionLocation")``). ``media_type`` is the one the model describes
    (``*/*`` for a body that may be anything, described by a model of ``Any``).

    A reply with an error status replaces the shared error response of that status
    (e.g. an ``Error`` body described for this operation alone)."""

    description: str
    model: type[BaseModel] | None = None
    headers: tuple[str | tuple[str, str], ...] = ()
    text: Text | None = None
    media_type: str = JSON


@dataclass(frozen=True)
class Form:
    """A ``multipart/form-data`` request body accepted besides the JSON one: its model
    and the fields it sends as JSON text (the others are plain text)."""

    model: type[BaseModel]
    json_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class Operation:
    """One method on one path, as the document describes it."""

    method: str
    path: str
    operation_id: str
    tag: str
    summary: str
    description: str
    #: Alternatives of scopes that may call it (each one suffices); None: no token needed.
    scopes: tuple[str, ...] | None
    replies: dict[Status, Reply]
    #: Error statuses besides the ones every operation of its kind may answer.
    errors: tuple[int, ...] = ()
    body: type[BaseModel] | None = None
    body_required: bool = True
    #: The media type ``body`` describes (``*/*``: any body, described by a model of ``Any``).
    body_media_type: str = JSON
    form: Form | None = None
    #: Names in ``components/parameters`` or whole parameter objects.
    parameters: tuple[str | dict[str, Any], ...] = ()
    #: Keys of the operation object a declaration cannot say otherwise (e.g. the
    #: ``security`` of a route with its own token scheme), written as they are.
    extra: dict[str, Any] = field(default_factory=dict)


def operation(method: str, path: str, *, operation_id: str, tag: str, summary: str,
              description: str, scopes: Sequence[str] | None, replies: dict[Status, Reply],
              errors: Sequence[int] = (), body: type[BaseModel] | None = None,
              body_required: bool = True, body_media_type: str = JSON,
              form: Form | None = None,
              parameters: Sequence[str | dict[str, Any]] = (),
              extra: dict[str, Any] | None = None) -> Callable[[Endpoint], Endpoint]:
    """Declare the endpoint it decorates as ``method path``."""
    declared = Operation(
        method=method.upper(), path=path, operation_id=operation_id, tag=tag,
        summary=summary, description=description,
        scopes=None if scopes is None else tuple(scopes), replies=dict(replies),
        errors=tuple(errors), body=body, body_required=body_required,
        body_media_type=body_media_type, form=form,
        parameters=tuple(parameters), extra=dict(extra or {}),
    )

    def attach(endpoint: Endpoint) -> Endpoint:
        endpoint.operation = declared  # type: ignore[attr-defined]
        return endpoint

    return attach


def operation_of(endpoint: Any) -> Operation | None:
    """The declaration of a decorated endpoint, else None."""
    found = getattr(endpoint, "operation", None)
    return found if isinstance(found, Operation) else None


def routes_of(*endpoints: Endpoint) -> list[BaseRoute]:
    """One route per path of the decorated ``endpoints``, in their order; each route
    keeps its operations (``route.operations``) for the document."""
    by_path: dict[str, dict[str, Endpoint]] = {}
    for endpoint in endpoints:
        declared = operation_of(endpoint)
        if declared is None:
            raise TypeError(f"{endpoint.__name__} is not declared with @operation")
        methods = by_path.setdefault(declared.path, {})
        if declared.method in methods:
            raise ValueError(f"{declared.method} {declared.path} is declared twice")
        methods[declared.method] = endpoint
    routes: list[BaseRoute] = []
    for path, methods in by_path.items():
        route = methods_route(path, methods)
        route.operations = [operation_of(e) for e in methods.values()]  # type: ignore[attr-defined]
        routes.append(route)
    return routes


def declared_operations(routes: Sequence[BaseRoute]) -> list[Operation]:
    """Every operation declared on ``routes``, in route order."""
    return [op for route in routes for op in getattr(route, "operations", ())]
