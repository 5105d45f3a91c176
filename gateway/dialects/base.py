"""What a compatibility dialect is, and how one declares its routes.

A dialect speaks one API document that clients already have, under its own base path,
with the document's paths verbatim beneath it. It translates shapes and nothing else:
each endpoint authenticates exactly as the native routes do (:mod:`gateway.api.security`),
parses the document's request into our models, calls the same service as the native
route, and renders the document's response. Its errors — whichever layer raises them:
the endpoint, the router (no route, wrong method), or a middleware (rate limit, body
limit, CORS, request-target guard) — are answered in the document's error shape through
``error_body``; the status and headers (``WWW-Authenticate``, ``Retry-After``,
``X-RateLimit-*``) are the native error's.

Dialect routes are not part of the native OpenAPI document: they are described by their
own documents and ``docs/compat.md``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from starlette.responses import Response
from starlette.routing import BaseRoute

from gateway.api.base_paths import BasePath
from gateway.api.errors import ErrorShape
from gateway.api.middleware.ratelimit import DialectClasses
from gateway.api.operations import Endpoint
from gateway.api.responses import JSONResponse
from gateway.api.route_groups import RouteGroup
from gateway.api.routes._methods import methods_route
from gateway.core.errors import FngateError

__all__ = ["Dialect", "ErrorBody", "prefixed"]

#: A dialect's error body for an error, given the request id of the native body.
ErrorBody = Callable[[FngateError, str], BaseModel | dict[str, Any]]

_NOTHING = "(?!)"


@dataclass(frozen=True, slots=True, kw_only=True)
class Dialect:
    """One API document spoken under ``base`` (a path template: ``{name}`` is a segment)."""

    name: str
    base: str
    routes: tuple[BaseRoute, ...]
    error_body: ErrorBody
    #: Paths below ``base`` (a regular expression matched whole) that run a function: the
    #: rate limiter's ``execute`` class, as the native invoke routes.
    execute: str = _NOTHING
    #: Paths below ``base`` that are never rate-limited (the document's health probes).
    unlimited: frozenset[str] = field(default_factory=frozenset)

    def route_group(self) -> RouteGroup:
        """``routes`` behind one check of ``base``: what the app's route table holds, so a
        request elsewhere (a native one, an unknown path) is not matched against each."""
        return RouteGroup(BasePath(self.base), self.routes)

    def error_shape(self) -> ErrorShape:
        """The renderer of this dialect's errors, for ``app.state.error_shapes``."""
        error_body = self.error_body

        def render(exc: FngateError, request_id: str) -> Response:
            return JSONResponse(error_body(exc, request_id), status_code=exc.status,
                                headers=exc.headers)

        return ErrorShape(BasePath(self.base), render)

    def classes(self) -> DialectClasses:
        """This dialect's route classes, for the rate limiter."""
        return DialectClasses(BasePath(self.base), re.compile(self.execute), self.unlimited)


def prefixed(base: str, table: Mapping[str, Mapping[str, Endpoint]]) -> tuple[BaseRoute, ...]:
    """One route per path of ``table`` (the document's path → method → endpoint), each at
    ``base`` + path, so a wrong method answers 405 listing the path's methods."""
    base = base.rstrip("/")
    return tuple(methods_route(base + path, dict(methods)) for path, methods in table.items())
