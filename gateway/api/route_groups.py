"""Routes grouped behind one check of their base path, and the one match of a request
against the app's route table that the middleware share.

A compatibility dialect's routes all live under its base path. Put in the app's route
table one by one, every request that no earlier route takes — a 404 above all — is
matched against each of them, and several times: by the rate limiter (is it a routed
request?), by the router, by the router again for the trailing-slash redirect, and by the
metrics middleware (its route template). A :class:`RouteGroup` stands in the table for
them all: a path not under its base costs one ``startswith``.

Unlike Starlette's ``Mount``, a group changes nothing a route or the router sees: its
routes keep their whole templates (the metrics labels), the path and ``root_path`` are
left as they are, a path parameter of the base (``/api/v1/workspaces/{workspaceId}``) is
the route's own, and the router finds, refuses (405 listing the path's methods) and
redirects (a trailing slash) exactly as with the routes in the table themselves: the
group matches as its first fully matching route does, else as its first partial match (a
wrong method), else not at all — never merely because the path is under its base.

:func:`matched_route` is that match computed once per request and kept in the scope, so
the rate limiter, which must know before routing, and the metrics middleware, for a
request no route served, do not each walk the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

# The path a route matches (the path below a ``root_path``), as Starlette's routes take it.
from starlette._utils import get_route_path
from starlette.datastructures import URLPath
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

from gateway.api.base_paths import BasePath

__all__ = ["RouteGroup", "RouteMatch", "flat_routes", "matched_route"]

_MATCHED = "fngate.matched_route"


class RouteGroup(BaseRoute):
    """``routes`` (each with its whole path template) under the base path ``base``."""

    def __init__(self, base: BasePath, routes: Sequence[BaseRoute]) -> None:
        self.base = base
        #: The base's template (as a ``Mount``'s ``path``): not a route of its own.
        self.path = base.template
        self.routes = tuple(routes)
        self._ids = frozenset(map(id, self.routes))

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """As the first of ``routes`` that matches fully, else the first that matches
        partially; the child scope names that route in ``route`` (what the router leaves
        in ``scope["route"]``, and :meth:`handle` hands the request to)."""
        if scope["type"] not in ("http", "websocket") or \
                self.base.rest(get_route_path(scope)) is None:
            return Match.NONE, {}
        partial: tuple[BaseRoute, Scope] | None = None
        for route in self.routes:
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                return Match.FULL, {**child_scope, "route": route}
            if match is Match.PARTIAL and partial is None:
                partial = route, child_scope
        if partial is None:
            return Match.NONE, {}
        route, child_scope = partial
        return Match.PARTIAL, {**child_scope, "route": route}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        route: BaseRoute | None = scope.get("route")
        if route is None or id(route) not in self._ids:
            # Called without the router's match (its child scope names the route).
            match, child_scope = self.matches(scope)
            if match is Match.NONE:
                raise RuntimeError(f"{scope.get('path')!r} is not a route of {self!r}")
            scope.update(child_scope)
            route = scope["route"]
        await route.handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        for route in self.routes:
            try:
                return route.url_path_for(name, **path_params)
            except NoMatchFound:
                pass
        raise NoMatchFound(name, path_params)

    def __repr__(self) -> str:
        return f"RouteGroup({self.base.template!r}, {len(self.routes)} routes)"


def flat_routes(routes: Iterable[BaseRoute]) -> list[BaseRoute]:
    """``routes`` with each group replaced by the routes it holds, in order."""
    out: list[BaseRoute] = []
    for route in routes:
        out.extend(route.routes if isinstance(route, RouteGroup) else (route,))
    return out


@dataclass(frozen=True, slots=True)
class RouteMatch:
    """The route the router chooses for a request: the first that matches it fully, else
    the first that matches it partially (the router answers 405), else None (404)."""

    route: BaseRoute | None
    full: bool
    path: str
    method: str


def matched_route(scope: Scope) -> RouteMatch:
    """The route of ``scope["app"].router`` that the router chooses for this request (a
    group's own route, not the group), matched on the first call and kept in the scope."""
    path, method = scope["path"], scope.get("method", "")
    found = scope.get(_MATCHED)
    if isinstance(found, RouteMatch) and found.path == path and found.method == method:
        return found
    router = getattr(scope.get("app"), "router", None)
    full: BaseRoute | None = None
    partial: BaseRoute | None = None
    for candidate in getattr(router, "routes", ()):
        match, child_scope = candidate.matches(scope)
        if match is Match.FULL:
            full = child_scope.get("route", candidate)
            break
        if match is Match.PARTIAL and partial is None:
            partial = child_scope.get("route", candidate)
    found = RouteMatch(full or partial, full is not None, path, method)
    scope[_MATCHED] = found
    return found
