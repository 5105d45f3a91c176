"""The request-target guard's rule, on ASGI scopes (no app, no I/O)."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import pytest

from gateway.api.middleware import TargetGuardMiddleware
from gateway.api.middleware.target_guard import target_problem


def _scope(path: str, query: bytes = b"", *, raw: bool = True) -> dict[str, Any]:
    """A scope as Hypercorn builds it: ``path`` decoded leniently, ``raw_path`` as sent."""
    scope: dict[str, Any] = {"type": "http", "method": "GET", "path": unquote(path),
                             "query_string": query, "headers": []}
    if raw:
        scope["raw_path"] = path.encode("ascii")
    return scope


@pytest.mark.parametrize("path", [
    "/api/v1/functions/a%00", "/api/v1/functions/a%01b", "/api/v1/functions/%1F",
    "/api/v1/functions/a%7F", "/api/v1/functions/a%C2%80", "/api/v1/functions/a%C2%9F",
    "/api/v1/functions/a%09", "/fn/a%0A", "/no-such-route%00",
])
def test_control_characters_in_the_path_are_refused(path: str) -> None:
    for raw in (True, False):
        problem = target_problem(_scope(path, raw=raw))
        assert problem is not None and problem.status == 400
        assert problem.code == "INVALID_REQUEST" and problem.details == {"in": "path"}
        assert "control character U+" in problem.message


@pytest.mark.parametrize("path", ["/api/v1/functions/a%FF", "/api/v1/functions/%C3",
                                  "/api/v1/functions/%ED%A0%80", "/fn/%C0%AF"])
def test_a_path_that_is_not_utf8_once_decoded_is_refused(path: str) -> None:
    problem = target_problem(_scope(path))
    assert problem is not None and problem.details == {"in": "path"}
    assert "UTF-8" in problem.message


@pytest.mark.parametrize("path", ["/api/v1/functions/caf%C3%A9", "/api/v1/functions/%EF%BF%BD",
                                  "/api/v1/functions/a%20b", "/fn/x/y", "/health",
                                  "/api/v1/functions/%C2%A0"])
def test_printable_paths_pass(path: str) -> None:
    assert target_problem(_scope(path)) is None


@pytest.mark.parametrize(("query", "parameter"), [
    (b"project=a%00", "project"), (b"label=k:a%00", "label"), (b"page=1&project=%0D", "project"),
    (b"a%00=1", "a\x00"), (b"x=%7F", "x"), (b"x=%C2%85", "x"), (b"x=a+%09", "x"),
    (b"flag%1F", "flag\x1f"),
])
def test_control_characters_in_a_query_parameter_are_refused(query: bytes, parameter: str
                                                             ) -> None:
    problem = target_problem(_scope("/api/v1/functions", query))
    assert problem is not None and problem.code == "INVALID_REQUEST"
    assert problem.details == {"in": "query", "parameter": parameter}


@pytest.mark.parametrize("query", [b"project=%FF", b"%C3=1", b"a=1&b=%E2%82"])
def test_a_query_that_is_not_utf8_once_decoded_is_refused(query: bytes) -> None:
    problem = target_problem(_scope("/api/v1/functions", query))
    assert problem is not None and problem.details["in"] == "query"
    assert "UTF-8" in problem.message


@pytest.mark.parametrize("query", [b"", b"project=caf%C3%A9&label=k:v", b"q=a+b&&x=",
                                   b"x=%EF%BF%BD", b"=", b"a"])
def test_printable_queries_pass(query: bytes) -> None:
    assert target_problem(_scope("/api/v1/functions", query)) is None


def test_http_trigger_queries_refuse_only_nul_and_invalid_utf8() -> None:
    assert target_problem(_scope("/fn/form", b"text=line1%0D%0Aline2%09%7F")) is None
    nul = target_problem(_scope("/fn/form", b"text=a%00"))
    assert nul is not None and nul.details == {"in": "query", "parameter": "text"}
    assert target_problem(_scope("/fn/form", b"text=%FF")) is not None
    # The path of a trigger route follows the general rule.
    assert target_problem(_scope("/fn/form%0A", b"")) is not None


async def test_the_middleware_answers_400_with_the_error_body_and_passes_the_rest() -> None:
    reached: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope.get("path", scope["type"]))

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    guard = TargetGuardMiddleware(app)
    bad = {**_scope("/api/v1/functions/a%00"), "fngate.request_id": "rid-1"}
    await guard(bad, receive, send)
    assert reached == [] and sent[0]["status"] == 400
    assert b'"code":"INVALID_REQUEST"' in sent[1]["body"]
    assert b'"request_id":"rid-1"' in sent[1]["body"]
    await guard(_scope("/api/v1/functions/calc"), receive, send)
    await guard({"type": "lifespan"}, receive, send)
    assert reached == ["/api/v1/functions/calc", "lifespan"]
    assert len(sent) == 2


def test_every_operation_documents_the_guards_400() -> None:
    from gateway.api.openapi import build_openapi
    from gateway.api.routes import all_routes

    document = build_openapi("test", all_routes())
    missing = [f"{method.upper()} {path}" for path, item in document["paths"].items()
               for method, operation in item.items()
               if method in ("get", "post", "put", "patch", "delete")
               and "400" not in operation["responses"]]
    assert missing == []
    bad_request = document["components"]["responses"]["BadRequest"]["description"]
    assert "control character" in bad_request and "details.in" in bad_request
