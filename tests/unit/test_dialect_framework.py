"""The dialect mechanism on a toy dialect: its routes under its base path, its error shape
for every layer that answers an error (endpoint, router, middleware), its rate-limit
classes — and the native API left as it was."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from config import load
from gateway.api.base_paths import BasePath
from gateway.api.errors import exception_handlers
from gateway.api.middleware import (
    BodyLimitMiddleware,
    RateLimitMiddleware,
    TargetGuardMiddleware,
)
from gateway.core.errors import FngateError, NotFound
from gateway.dialects import Dialect, prefixed
from gateway.services.ratelimit import RateLimiter


def _toy_error(exc: FngateError, request_id: str) -> dict[str, Any]:
    return {"problem": exc.message, "kind": exc.code}


async def _thing(request: Request) -> Response:
    if request.path_params["id"] == "missing":
        raise NotFound("no such thing", code="THING_NOT_FOUND")
    return JSONResponse({"thing": request.path_params["id"]})


async def _run(request: Request) -> Response:
    return JSONResponse({"ran": True})


async def _health(request: Request) -> Response:
    return JSONResponse({"status": "healthy"})


TOY = Dialect(
    name="toy", base="/compat/toy/{tenant}",
    routes=prefixed("/compat/toy/{tenant}", {
        "/things/{id}": {"GET": _thing},
        "/things/{id}/run": {"POST": _run},
        "/health": {"GET": _health},
    }),
    error_body=_toy_error, execute=r"/things/[^/]+/run", unlimited=frozenset({"/health"}),
)


async def _native(request: Request) -> Response:
    raise NotFound("no such function", code="FUNCTION_NOT_FOUND")


def _app(tmp_path: Path, rate_limits: str = "off") -> Starlette:
    settings = load({}, toml_path=tmp_path / "none.toml", data_dir=str(tmp_path),
                    rate_limits=rate_limits)
    app = Starlette(
        routes=[Route("/api/v1/functions/{ref}", _native), *TOY.routes],
        middleware=[Middleware(TargetGuardMiddleware),
                    Middleware(RateLimitMiddleware, dialects=[TOY.classes()]),
                    Middleware(BodyLimitMiddleware, max_body_bytes=10)],
        exception_handlers=exception_handlers,
    )
    app.state.error_shapes = (TOY.error_shape(),)
    app.state.services = SimpleNamespace(limiter=RateLimiter(settings), settings=settings,
                                         verifier=None)
    return app


def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


@pytest.mark.parametrize(("template", "path", "rest"), [
    ("/compat/toy", "/compat/toy", ""),
    ("/compat/toy", "/compat/toy/functions/1", "/functions/1"),
    ("/compat/toy", "/compat/toyish/functions", None),
    ("/compat/toy", "/api/v1/functions", None),
    ("/api/v1/workspaces/{workspaceId}", "/api/v1/workspaces/w1/functions", "/functions"),
    ("/api/v1/workspaces/{workspaceId}", "/api/v1/workspaces", None),
    ("/api/v1/workspaces/{workspaceId}/", "/api/v1/workspaces/w1", ""),
])
def test_a_base_path_says_what_is_below_it(template: str, path: str, rest: str | None) -> None:
    assert BasePath(template).rest(path) == rest


async def test_a_dialect_route_answers_under_its_base(tmp_path: Path) -> None:
    async with _client(_app(tmp_path)) as client:
        response = await client.get("/compat/toy/t1/things/a")
    assert (response.status_code, response.json()) == (200, {"thing": "a"})


@pytest.mark.parametrize(("method", "path", "body", "status", "kind"), [
    ("GET", "/compat/toy/t1/things/missing", None, 404, "THING_NOT_FOUND"),  # the endpoint
    ("GET", "/compat/toy/t1/nothing-here", None, 404, "NOT_FOUND"),  # the router
    ("DELETE", "/compat/toy/t1/things/a", None, 405, "INVALID_REQUEST"),  # the route
    ("POST", "/compat/toy/t1/things/a/run", b"x" * 11, 413, "PAYLOAD_TOO_LARGE"),  # middleware
    ("GET", "/compat/toy/t1/things/a%00", None, 400, "INVALID_REQUEST"),  # before routing
])
async def test_every_error_under_the_base_has_the_dialects_shape(
    tmp_path: Path, method: str, path: str, body: bytes | None, status: int, kind: str,
) -> None:
    async with _client(_app(tmp_path)) as client:
        response = await client.request(method, path, content=body)
    assert response.status_code == status
    assert set(response.json()) == {"problem", "kind"}
    assert response.json()["kind"] == kind


async def test_native_errors_keep_the_native_body(tmp_path: Path) -> None:
    async with _client(_app(tmp_path)) as client:
        found = await client.get("/api/v1/functions/x")
        unrouted = await client.get("/compat/toyish/things/a")
    assert found.status_code == 404 and found.json()["error"]["code"] == "FUNCTION_NOT_FOUND"
    assert unrouted.status_code == 404 and unrouted.json()["error"]["code"] == "NOT_FOUND"


async def test_the_rate_limit_answers_in_the_dialects_shape_and_spares_its_probes(
    tmp_path: Path,
) -> None:
    app = _app(tmp_path, rate_limits="execute=1/minute|1/minute; read=50/minute|50/minute")
    async with _client(app) as client:
        first = await client.post("/compat/toy/t1/things/a/run")
        second = await client.post("/compat/toy/t1/things/a/run")
        probes = [await client.get("/compat/toy/t1/health") for _ in range(3)]
    assert first.status_code == 200 and "x-ratelimit-limit" in first.headers
    assert second.status_code == 429 and second.json()["kind"] == "RATE_LIMITED"
    assert "retry-after" in second.headers
    assert [p.status_code for p in probes] == [200, 200, 200]
    assert all("x-ratelimit-limit" not in p.headers for p in probes)


@pytest.mark.parametrize(("method", "path", "expected"), [
    ("POST", "/compat/toy/t1/things/a/run", "execute"),
    ("GET", "/compat/toy/t1/things/a", "read"),
    ("PUT", "/compat/toy/t1/things/a", "write"),
    ("GET", "/compat/toy/t1/health", None),
    ("OPTIONS", "/compat/toy/t1/things/a/run", None),
    # Native paths are classed as before.
    ("POST", "/api/v1/functions/f/invoke", "execute"),
    ("GET", "/compat/toyish/things/a", None),
])
def test_a_dialects_requests_are_classed_by_its_rules(method: str, path: str,
                                                      expected: str | None) -> None:
    middleware = RateLimitMiddleware(_health, dialects=[TOY.classes()])  # type: ignore[arg-type]
    assert middleware.route_class(method, path) == expected
