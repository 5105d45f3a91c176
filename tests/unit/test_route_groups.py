"""Route groups: the app's real route table with each dialect behind one check of its base
path routes every request as the same table with the dialects' routes one by one — same
route, same 405 and its ``Allow``, same trailing-slash redirect, same 404 — while a request
elsewhere is never matched against a dialect's routes; and the match the middleware share
is made once."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import Receive, Scope, Send

from gateway.api.base_paths import BasePath
from gateway.api.route_groups import RouteGroup, flat_routes, matched_route
from gateway.app import create_app
from gateway.dialects import all_dialects
from tests.conftest import make_settings

_PARAM = re.compile(r"\{[^/{}]+\}")
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _table(tmp_path: Path) -> list[BaseRoute]:
    # Without the console: its static files are no route of an API (and want a browser).
    return list(create_app(make_settings(tmp_path, None, console=False)).router.routes)


def _paths(table: list[BaseRoute]) -> Iterator[str]:
    """Every route's template with its parameters filled, with and without a trailing
    slash, one segment more, and each dialect's base around its edges."""
    for route in flat_routes(table):
        path = _PARAM.sub("w-1", getattr(route, "path", ""))
        yield from (path, path + "/", path + "/extra", path.rstrip("/") + "x")
    for dialect in all_dialects():
        base = _PARAM.sub("w-1", dialect.base)
        yield from (base, base + "/", base + "/nope", base + "/functions/",
                    base.rsplit("/", 1)[0], base + "x/functions")
    yield from ("/", "/api/v1/no-such-resource", "/api/v1/workspaces", "/api/v1/workspaces/",
                "/compat", "/compat/")


async def _route(router: Router, method: str, path: str) -> tuple[int, str, str, str]:
    """What ``router`` answers (status, Allow, Location, the route that answered)."""
    scope: dict[str, Any] = {"type": "http", "method": method, "path": path, "root_path": "",
                             "query_string": b"", "headers": [], "scheme": "http",
                             "server": ("t", 80)}
    sent: list[dict[str, Any]] = []
    received: list[bool] = []

    async def receive() -> dict[str, Any]:
        if received:  # a response listening for the client's disconnect: it stays
            await asyncio.Future()
        received.append(True)
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    await router(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return (start["status"], headers.get("allow", ""), headers.get("location", ""),
            getattr(scope.get("route"), "path", ""))


@pytest.fixture
def answered_by_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each route answers 200 naming its template instead of running its endpoint (which
    needs the app's services); a wrong method still gets the route's own 405."""
    handle = Route.handle

    async def answer(self: Route, scope: Scope, receive: Receive, send: Send) -> None:
        if self.methods and scope["method"] not in self.methods:
            await handle(self, scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"x-route", self.path.encode())]})
        await send({"type": "http.response.body", "body": b""})

    monkeypatch.setattr(Route, "handle", answer)


@pytest.mark.usefixtures("answered_by_path")
async def test_grouped_routes_answer_every_request_as_the_routes_one_by_one(
    tmp_path: Path,
) -> None:
    table = _table(tmp_path)
    assert sum(isinstance(route, RouteGroup) for route in table) == len(all_dialects())
    grouped, flat = Router(table), Router(flat_routes(table))
    paths = sorted(set(_paths(table)))
    differences = []
    for path in paths:
        for method in _METHODS:
            one, other = await _route(grouped, method, path), await _route(flat, method, path)
            if one != other:
                differences.append((method, path, one, other))
    assert differences == []
    # The corpus reaches every outcome: routed, refused, redirected, not found.
    statuses = {(await _route(grouped, m, p))[0] for p in paths for m in ("GET", "DELETE")}
    assert {200, 404, 405, 307} <= statuses


@pytest.mark.usefixtures("answered_by_path")
@pytest.mark.parametrize(("method", "path", "expected"), [
    # The base's parameter is the route's own.
    ("GET", "/api/v1/workspaces/w-1/functions",
     (200, "", "", "/api/v1/workspaces/{workspaceId}/functions")),
    ("PATCH", "/compat/kube-serverless/api/v1/functions",
     (405, "GET, HEAD, POST", "", "/compat/kube-serverless/api/v1/functions")),
    ("GET", "/compat/function-api/functions/",
     (307, "", "http://t/compat/function-api/functions", "")),
    # Not a Mount: the base alone is no route, and is not redirected to base + "/".
    ("GET", "/compat/function-api", (404, "", "", "")),
    ("GET", "/api/v1/workspaces/w-1", (404, "", "", "")),
])
async def test_a_groups_answers_in_detail(
    tmp_path: Path, method: str, path: str, expected: tuple[int, str, str, str],
) -> None:
    status, allow, location, route = await _route(Router(_table(tmp_path)), method, path)
    assert (status, ", ".join(sorted(allow.split(", "))) if allow else "", location,
            route) == expected


@pytest.fixture
def matched(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The template of each route that is matched against a request, in order."""
    seen: list[str] = []
    matches = Route.matches

    def counting(self: Route, scope: Scope) -> tuple[Match, Scope]:
        seen.append(self.path)
        return matches(self, scope)

    monkeypatch.setattr(Route, "matches", counting)
    return seen


def _dialect_of(template: str) -> str | None:
    for dialect in all_dialects():
        if BasePath(dialect.base).rest(template) is not None:
            return dialect.name
    return None


@pytest.mark.usefixtures("answered_by_path")
@pytest.mark.parametrize(("path", "dialect"), [
    ("/api/v1/no-such-resource", None),
    ("/no/such/path", None),
    ("/api/v1/functions/f", None),
    ("/compat/kube-serverless/api/v1/nope", "kube-serverless"),
    ("/api/v1/workspaces/w-1/functions/nope/", "function-service"),
])
async def test_a_request_is_matched_against_no_other_dialects_routes(
    tmp_path: Path, matched: list[str], path: str, dialect: str | None,
) -> None:
    router = Router(_table(tmp_path))
    matched.clear()
    await _route(router, "GET", path)
    assert matched
    assert {_dialect_of(template) for template in matched} <= {None, dialect}


def test_the_shared_match_is_made_once_per_request(tmp_path: Path,
                                                   matched: list[str]) -> None:
    app = SimpleNamespace(router=Router(_table(tmp_path)))
    scope: dict[str, Any] = {"type": "http", "method": "DELETE", "path": "/api/v1/jobs/j-1",
                             "app": app}
    matched.clear()
    first = matched_route(scope)
    walked = len(matched)
    assert (getattr(first.route, "path", None), first.full) == ("/api/v1/jobs/{job_id}", False)
    assert matched_route(scope) is first and len(matched) == walked
    # Another request in the same scope (never in practice) is matched anew.
    scope["method"] = "GET"
    again = matched_route(scope)
    assert len(matched) > walked and again.full


def test_a_shared_match_names_a_groups_route_not_the_group(tmp_path: Path) -> None:
    app = SimpleNamespace(router=Router(_table(tmp_path)))
    for method, full in (("GET", True), ("PATCH", False)):
        scope = {"type": "http", "method": method, "app": app,
                 "path": "/api/v1/workspaces/w-1/functions"}
        found = matched_route(scope)
        assert isinstance(found.route, Route) and found.full is full
        assert found.route.path == "/api/v1/workspaces/{workspaceId}/functions"
    nothing = matched_route({"type": "http", "method": "GET", "app": app,
                             "path": "/api/v1/workspaces/w-1/nothing"})
    assert (nothing.route, nothing.full) == (None, False)
