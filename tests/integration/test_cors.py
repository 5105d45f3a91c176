"""CORS: configured origins only, exact preflight headers, exposed headers on responses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import auth, running_app
from tests.integration.test_functions_api import assert_error

ORIGIN = "https://app.example.com"
OTHER = "https://evil.example.net"
TINY = "execute=1/minute|1/minute; read=1/minute|1/minute; write=1/minute|1/minute"
ALLOW_METHODS = "GET, POST, PUT, DELETE, OPTIONS"
ALLOW_HEADERS = ("Content-Type, Authorization, Language-Title, X-Request-ID, X-Cache-Control, "
                 "Idempotency-Key, Prefer, X-Callback-URL")
EXPOSE_HEADERS = ("X-Request-ID, X-Job-ID, X-Cache, Age, X-Function-Duration, X-Cold-Start, "
                  "X-Function-Error, Location, Retry-After, "
                  "X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset")


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


def preflight(client: httpx.AsyncClient, path: str, origin: str,
              method: str = "POST") -> Any:
    return client.options(path, headers={
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type",
    })


async def test_preflight_from_an_allowed_origin_answers_the_exact_headers(
    settings_factory: Callable[..., Any],
) -> None:
    settings = settings_factory(cors_origins=(ORIGIN,), rate_limits=TINY)
    async with running_app(settings) as client:
        # no token, never rate limited, any API path (even one without that method or route)
        for path in ("/api/v1/functions", "/api/v1/functions", "/api/v1/functions/x/invoke",
                     "/api/v1/no-such-route", "/api/v1/jobs/abc"):
            r = await preflight(client, path, ORIGIN)
            assert r.status_code == 200, (path, r.text)
            assert cors_headers(r) == {
                "access-control-allow-origin": ORIGIN,
                "access-control-allow-credentials": "true",
                "access-control-allow-methods": ALLOW_METHODS,
                "access-control-allow-headers": ALLOW_HEADERS,
                "access-control-max-age": "86400",
            }
            assert "x-ratelimit-limit" not in r.headers
            assert r.headers["vary"] == "Origin"
            assert r.headers["x-request-id"]


async def test_preflight_from_a_disallowed_origin_gets_400_without_cors_headers(
    settings_factory: Callable[..., Any],
) -> None:
    async with running_app(settings_factory(cors_origins=(ORIGIN,))) as client:
        r = await preflight(client, "/api/v1/functions", OTHER)
        assert_error(r, 400, "INVALID_REQUEST")
        assert cors_headers(r) == {}
    # nothing allowed by default
    async with running_app(settings_factory()) as client:
        r = await preflight(client, "/api/v1/functions", ORIGIN)
        assert_error(r, 400, "INVALID_REQUEST")
        assert cors_headers(r) == {}


async def test_actual_request_from_an_allowed_origin_exposes_the_headers(
    settings_factory: Callable[..., Any],
) -> None:
    settings = settings_factory(cors_origins=(ORIGIN,), rate_limits=TINY)
    async with running_app(settings) as client:
        for status in (200, 429):
            r = await client.get("/api/v1/functions",
                                 headers={"Origin": ORIGIN, **auth("read:functions")})
            assert r.status_code == status
            assert cors_headers(r) == {
                "access-control-allow-origin": ORIGIN,
                "access-control-allow-credentials": "true",
                "access-control-expose-headers": EXPOSE_HEADERS,
            }
            assert r.headers["vary"] == "Origin"
        r = await client.get("/api/v1/functions", headers={"Origin": OTHER})
        assert r.status_code == 401 and cors_headers(r) == {}


async def test_no_cors_headers_by_default(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/functions", headers={"Origin": ORIGIN, **auth()})
    assert r.status_code == 200 and cors_headers(r) == {}
    r = await client.get("/health", headers={"Origin": ORIGIN})
    assert r.status_code == 200 and cors_headers(r) == {}


async def test_wildcard_origin_allows_any_origin_without_credentials(
    settings_factory: Callable[..., Any],
) -> None:
    async with running_app(settings_factory(cors_origins=("*",))) as client:
        r = await preflight(client, "/api/v1/functions", OTHER, method="PUT")
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in r.headers
        assert r.headers["access-control-allow-methods"] == ALLOW_METHODS
        r = await client.get("/health", headers={"Origin": OTHER})
        assert r.headers["access-control-allow-origin"] == "*"
        assert r.headers["access-control-expose-headers"] == EXPOSE_HEADERS
        assert "access-control-allow-credentials" not in r.headers
