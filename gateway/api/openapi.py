"""The OpenAPI 3.1 document of the routes this gateway serves today.

The document is plain data built once at import; :func:`build_openapi` hands
out a fresh copy with the version filled in. It describes what the code does,
including the choices API.md leaves open, so a change to a route's behaviour
belongs here too (``tests/unit/test_openapi.py`` checks that paths and methods
match ``gateway.api.routes.all_routes()``). Paths and component schemas are
written from the operations declared on the routes and their models
(:mod:`gateway.api.openapi_operations`); the hand-written parts are the shared
headers (``_openapi_headers``), parameters (``_openapi_parameters``), error
responses (``_openapi_responses``), the prose (``_openapi_info``) and the outgoing
webhooks (``_openapi_webhooks``). This module assembles the document and marks what
the rate limiter and the request-target guard add to each operation.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from starlette.routing import BaseRoute

from gateway.api._openapi_headers import HEADERS, LIMIT_HEADERS
from gateway.api._openapi_info import INFO_DESCRIPTION, SECURITY_SCHEMES, TAGS
from gateway.api._openapi_parameters import PARAMETERS
from gateway.api._openapi_responses import RESPONSES, TARGET_REFUSED, error
from gateway.api._openapi_schemas import ref
from gateway.api._openapi_webhooks import OUTGOING_WEBHOOKS
from gateway.api.middleware.ratelimit import route_class
from gateway.api.openapi_operations import operation_paths
from gateway.api.operations import declared_operations
from gateway.schemas.errors import ERROR_CODES, Error, ParamError
from gateway.schemas.webhooks import WebhookDelivery

__all__ = ["build_openapi", "ERROR_CODES"]

_FN_METHODS = ("get", "post", "put", "patch", "delete")


def _limited(paths: dict[str, Any]) -> dict[str, Any]:
    """Mark rate-limited operations: their class, 429 and 503, X-RateLimit on each response;
    the errors of the others carry no X-RateLimit headers."""
    for path, item in paths.items():
        for method, operation in item.items():
            if method not in _FN_METHODS:
                continue
            # A template's {param} stands in for one path segment, as in a request.
            klass = route_class(method.upper(), path)
            if klass is None:
                _unlimited(operation["responses"])
                continue
            operation["x-rate-limit-class"] = klass
            responses = operation["responses"]
            responses.setdefault("429", error("429"))
            responses.setdefault("503", error("503"))
            for response in responses.values():
                if "$ref" not in response:
                    response["headers"].update(
                        {name: ref("headers", name) for name in LIMIT_HEADERS})
    return paths


def _unlimited(responses: dict[str, Any]) -> None:
    """The shared error responses of ``responses``, inlined without the X-RateLimit headers
    the rate limiter adds (an operation it does not see answers without them)."""
    for status, response in responses.items():
        if "$ref" in response:
            inlined = copy.deepcopy(RESPONSES[response["$ref"].rsplit("/", 1)[1]])
            for name in LIMIT_HEADERS:
                inlined["headers"].pop(name, None)
            responses[status] = inlined


def _guarded(paths: dict[str, Any]) -> dict[str, Any]:
    """Every operation may answer the request-target guard's 400 (a control character or
    invalid UTF-8 in the path or a query parameter), whatever else it answers; it comes
    before the rate limiter, so an unlimited operation's 400 has no X-RateLimit headers."""
    for item in paths.values():
        for method, operation in item.items():
            if method in _FN_METHODS:
                limited = "x-rate-limit-class" in operation
                operation["responses"].setdefault(
                    "400", error("400") if limited else copy.deepcopy(TARGET_REFUSED))
    return paths


#: Models the document names outside an operation: the body of an outgoing webhook, and
#: the error body of the shared error responses (`ParamError` its `details.errors`).
_EXTRA_MODELS = (WebhookDelivery, Error, ParamError)

_DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "fngate", "version": "", "description": INFO_DESCRIPTION,
             "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}},
    "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
    "tags": TAGS,
    "paths": {},
    "webhooks": OUTGOING_WEBHOOKS,
    "components": {
        "schemas": {},
        "responses": RESPONSES,
        "parameters": PARAMETERS,
        "headers": HEADERS,
        "securitySchemes": SECURITY_SCHEMES,
    },
}


def build_openapi(version: str, routes: Sequence[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``routes`` with ``info.version`` set; a fresh copy each
    call. Its operations and component schemas are written from the operations declared
    on ``routes`` (:func:`gateway.api.operations.operation`) and their models."""
    document = copy.deepcopy(_DOCUMENT)
    document["info"]["version"] = version
    paths, schemas = operation_paths(declared_operations(routes), _EXTRA_MODELS)
    document["paths"] = _guarded(_limited(paths))
    document["components"]["schemas"] = schemas
    return document
