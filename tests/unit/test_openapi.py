"""The OpenAPI document is valid, self-consistent, and matches the routes served."""

from __future__ import annotations

import dataclasses
import importlib.util
import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.routing import Route

from config import Settings
from gateway.api.middleware.cors import ALLOW_HEADERS, EXPOSE_HEADERS
from gateway.api.middleware.ratelimit import route_class
from gateway.api.openapi import ERROR_CODES, build_openapi
from gateway.api.routes import all_routes, openapi
from gateway.core.version import VERSION

_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
_LIMIT_HEADERS = {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"}


def _document() -> dict[str, Any]:
    return build_openapi("1.2.3", all_routes())


def _walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"unresolved $ref {ref}"
        node = node[part]
    return node


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in _METHODS:
                yield path, method, operation


def _response(document: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in response:
        resolved: dict[str, Any] = _resolve(document, response["$ref"])
        return resolved
    return response


def _served() -> set[tuple[str, str]]:
    """Every (path, method) of every route the app serves, as OpenAPI writes the path."""
    served: set[tuple[str, str]] = set()
    for route in all_routes():
        assert isinstance(route, Route), route
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)  # {path:path} -> {path}
        for method in route.methods or ():
            if method != "HEAD":  # Starlette adds HEAD to every GET
                served.add((path, method.lower()))
    return served


def test_document_validates_against_the_openapi_3_1_meta_schema() -> None:
    if importlib.util.find_spec("openapi_spec_validator") is None:
        pytest.skip("openapi-spec-validator is not installed")
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation.validators import OpenAPIV31SpecValidator

    validate(_document(), cls=OpenAPIV31SpecValidator)


def test_every_ref_resolves() -> None:
    document = _document()
    refs = [n["$ref"] for n in _walk(document) if isinstance(n, dict) and "$ref" in n]
    assert refs
    for ref in refs:
        _resolve(document, ref)


def test_every_served_route_is_documented_and_nothing_else() -> None:
    documented = {(path, method) for path, method, _ in _operations(_document())}
    served = _served()
    assert ("/api/v1/execute/{request_id}", "post") in served
    assert documented == served


def test_build_sets_the_version_and_returns_a_fresh_copy() -> None:
    first = build_openapi("1.2.3", all_routes())
    first["paths"].clear()
    second = build_openapi("4.5.6", all_routes())
    assert second["openapi"].startswith("3.1")
    assert second["info"]["version"] == "4.5.6"
    assert second["paths"]


def test_every_response_documents_x_request_id() -> None:
    document = _document()
    for path, method, operation in _operations(document):
        for status, response in operation["responses"].items():
            response = _response(document, response)
            assert "X-Request-ID" in response.get("headers", {}), (path, method, status)


def test_only_the_operator_views_are_unauthenticated() -> None:
    public = {"/health", "/ready", "/status", "/openapi.json"}
    for path, method, operation in _operations(_document()):
        assert "security" in operation, (path, method)
        requirements = operation["security"]
        if path in public:
            assert requirements == [], (path, method)
            continue
        if path == "/metrics":  # open unless FNGATE_METRICS_TOKEN is set
            assert requirements == [{"metricsToken": []}, {}], (path, method)
            continue
        if path == "/fn/{path}":  # a public HTTP trigger needs no token
            assert requirements[-1] == {}, (path, method)
            requirements = requirements[:-1]
        assert requirements, (path, method)
        assert all(set(req) == {"bearerAuth"} for req in requirements), (path, method)


def test_error_schema_lists_every_code_of_the_contract() -> None:
    schemas = _document()["components"]["schemas"]
    assert schemas["ErrorCode"]["enum"] == list(ERROR_CODES)
    assert {"CONCURRENCY_LIMIT", "FUNCTION_NOT_FOUND", "JOB_NOT_FOUND"} <= set(ERROR_CODES)
    assert schemas["Error"]["required"] == ["error", "request_id"]


def test_error_responses_cover_each_status() -> None:
    responses = _document()["components"]["responses"]
    by_status = {"400", "401", "403", "404", "405", "409", "413", "429", "500", "503", "504"}
    assert len(responses) == len(by_status)
    for response in responses.values():
        assert response["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }


def _given(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A nullable property's schema when it is given (``anyOf: [schema, null]``)."""
    options = [s for s in schema.get("anyOf", [schema]) if s != {"type": "null"}]
    assert len(options) == 1, schema
    given: dict[str, Any] = options[0]
    return _resolve(document, given["$ref"]) if "$ref" in given else given


def test_function_create_mirrors_the_input_limits() -> None:
    document = _document()
    props = document["components"]["schemas"]["FunctionCreate"]["properties"]
    from gateway.core.identifiers import PROJECT_NAME_PATTERN
    from gateway.schemas.function_input import NAME_PATTERN

    assert props["name"]["pattern"] == NAME_PATTERN == "^[A-Za-z][A-Za-z0-9_-]{0,63}$"
    assert props["project"]["pattern"] == PROJECT_NAME_PATTERN
    assert (props["timeout_ms"]["minimum"], props["timeout_ms"]["maximum"]) == (1, 300000)
    assert (props["memory_mb"]["minimum"], props["memory_mb"]["maximum"]) == (16, 2048)
    assert _given(document, props["dependencies"])["maxItems"] == 100
    assert _given(document, props["triggers"])["maxItems"] == 20


def test_function_create_mirrors_the_sandbox_limits() -> None:
    from gateway.core.quantities import cpu_millis, memory_mib
    from gateway.schemas.function_limits import MAX_CPU_MILLIS

    document = _document()
    props = document["components"]["schemas"]["FunctionCreate"]["properties"]
    assert props["network"]["enum"] == ["egress", "none"]
    assert props["network"]["default"] == "egress"
    storage = props["ephemeral_storage_mb"]
    assert (storage["minimum"], storage["default"]) == (16, 512)
    assert storage["maximum"] == Settings().max_ephemeral_storage_mb
    assert (props["cpu_millis"]["minimum"], props["cpu_millis"]["maximum"]) == (
        10, MAX_CPU_MILLIS)
    resources = _given(document, props["resources"])["properties"]
    cpu_pattern = resources["cpu"]["oneOf"][0]["pattern"]
    memory_pattern = resources["memory"]["pattern"]
    for text in ("100m", "0.5", ".5", "2", "abc", "1.5x", "-1", "1e3", "1.5m"):
        assert bool(re.search(cpu_pattern, text)) == _parses(cpu_millis, text), text
    for text in ("256Mi", "1Gi", "512M", "1.5Gi", "12Qi", "256", "1gi", "-1Gi"):
        assert bool(re.search(memory_pattern, text)) == _parses(memory_mib, text), text


def _parses(parse: Any, text: str) -> bool:
    try:
        parse(text)
    except ValueError:
        return False
    return True


def test_function_schema_has_every_field_the_model_renders() -> None:
    import datetime as dt

    from gateway.core.models import FunctionRecord, Job
    from gateway.schemas.base import render
    from gateway.schemas.function_view import function_view
    from gateway.schemas.jobs import render_job

    now = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    record = FunctionRecord(
        id=1, name="calc", project="default", runtime="python", execution_type="sync",
        description="", environment={}, timeout_ms=30000, memory_mb=256, max_concurrency=10,
        min_warm=0, cache_ttl=3600, cache_scope="caller", max_retries=0, rate_limit=None,
        schema=None, examples=[], labels={}, active_version=1, created_at=now, updated_at=now,
    )
    job = Job(
        id="f8c3de3d-1fea-4d7c-a8b0-29f63c4c3454", function_id=1, function_name="calc",
        version=1, trigger="invoke", status="success", owner="", subject=None, result=1,
        error=None, timestamp=now, started_at=now, finished_at=now, duration=4.0,
        cold_start=False, attempts=1, cached=False,
    )
    schemas = _document()["components"]["schemas"]
    rendered = render(function_view(record, reveal_environment=True))
    assert set(rendered) == set(schemas["Function"]["properties"])
    assert set(render_job(job)) == set(schemas["Job"]["required"])


async def test_openapi_json_route_serves_the_document() -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request

    from gateway.core.jsoncodec import loads

    app = Starlette(routes=openapi.routes)
    app.state.openapi = lambda: build_openapi(VERSION, all_routes())
    scope = {"type": "http", "method": "GET", "path": "/openapi.json", "headers": [],
             "app": app}
    response = await openapi.openapi_json(Request(scope))
    assert response.status_code == 200
    assert response.media_type == "application/json"
    assert loads(bytes(response.body)) == build_openapi(VERSION, all_routes())


def test_every_api_operation_documents_503() -> None:
    document = _document()
    for path, method, operation in _operations(document):
        if path.startswith("/api/v1/"):
            response = _response(document, operation["responses"]["503"])
            assert "UNAVAILABLE" in response["description"], (path, method)
            assert "Retry-After" in response["headers"], (path, method)


def test_rate_limited_operations_match_the_limiter() -> None:
    document = _document()
    for path, method, operation in _operations(document):
        klass = route_class(method.upper(), path)
        assert operation.get("x-rate-limit-class") == klass, (path, method)
        responses = operation["responses"]
        if klass is not None:
            assert "429" in responses, (path, method)
        for status, response in responses.items():
            headers = set(_response(document, response).get("headers", {}))
            if klass is None:
                assert not headers & _LIMIT_HEADERS, (path, method, status)
            else:
                assert _LIMIT_HEADERS <= headers, (path, method, status)


def test_429_describes_its_three_codes_with_retry_after() -> None:
    response = _document()["components"]["responses"]["TooManyRequests"]
    assert "RATE_LIMITED" in response["description"]
    assert "CONCURRENCY_LIMIT" in response["description"]
    assert "QUOTA_EXCEEDED" in response["description"]
    assert {"Retry-After", *_LIMIT_HEADERS} <= set(response["headers"])
    examples = response["content"]["application/json"]["examples"]
    codes = {e["value"]["error"]["code"] for e in examples.values()}
    assert codes == {"RATE_LIMITED", "CONCURRENCY_LIMIT", "QUOTA_EXCEEDED"}


def test_info_documents_rate_limit_defaults_and_cors() -> None:
    description = _document()["info"]["description"]
    defaults = {f.name: f.default for f in dataclasses.fields(Settings)}
    assert defaults["rate_limits"] in description
    assert ", ".join(ALLOW_HEADERS) in description
    assert ", ".join(EXPOSE_HEADERS) in description
    assert "Rate limits are not enforced" not in description


def test_cache_headers_on_execute_and_invoke() -> None:
    paths = _document()["paths"]
    for path in ("/api/v1/execute/{request_id}", "/api/v1/functions/{ref}/invoke"):
        operation = paths[path]["post"]
        params = {p.get("$ref", "").rsplit("/", 1)[-1] for p in operation["parameters"]}
        assert "X-Cache-Control" in params, path
        assert {"X-Cache", "Age"} <= set(operation["responses"]["200"]["headers"]), path


def test_creates_document_their_location_header() -> None:
    document = _document()
    for path, component in (("/api/v1/functions", "FunctionLocation"),
                            ("/api/v1/projects", "ProjectLocation")):
        headers = document["paths"][path]["post"]["responses"]["201"]["headers"]
        assert headers["Location"] == {"$ref": f"#/components/headers/{component}"}, path
        assert _resolve(document, headers["Location"]["$ref"])["required"] is True


def test_cache_control_examples_parse() -> None:
    from gateway.services.cache import parse_cache_control

    parameter = _document()["components"]["parameters"]["X-Cache-Control"]
    for example in parameter["schema"]["examples"]:
        assert parse_cache_control(example) is not None


def test_session_schemas_have_every_field_the_code_renders() -> None:
    import datetime as dt

    from gateway.api.routes._lookup import render_trigger
    from gateway.api.routes.sessions import session_view
    from gateway.schemas.base import render
    from gateway.store.sessions import SessionRecord
    from gateway.store.triggers import TriggerRecord

    now = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    session = SessionRecord(
        id="f8c3de3d-1fea-4d7c-a8b0-29f63c4c3454", owner="o", function_id=1,
        language_title="nodejs-calc", version=1, context={}, timeout_ms=30000,
        retain_session=True, status="active", created_at=now, expires_at=now,
        execution_count=0, last_executed_at=None,
    )
    schemas = _document()["components"]["schemas"]
    assert set(render(session_view(session))) == set(schemas["Session"]["required"])
    assert set(schemas["Session"]["properties"]["status"]["enum"]) == {
        "active", "expired", "closed"}
    assert schemas["ExecuteResponse"]["required"] == [
        "request_id", "language_title", "execution_time", "cached", "result"]
    assert schemas["ExecuteResponse"]["properties"]["execution_time"]["type"] == "integer"
    context = schemas["SessionContext"]["properties"]
    assert set(context) == {"environment", "user_id", "timeout_ms", "retain_session"}
    configs = {"http": {"path": "/hello", "methods": ["GET"], "public": False},
               "cron": {"schedule": "* * * * *", "timezone": "UTC", "payload": {},
                        "misfire": "run_once"},
               "queue": {"queue": "q", "exchange": "", "routing_key": "", "prefetch": 10,
                         "dead_letter": True}}
    for kind, config in configs.items():
        trigger = TriggerRecord(id=1, function_id=1, name=None, type=kind, enabled=True,
                                config=config, created_at=now, updated_at=now)
        variant = schemas[f"{kind.capitalize()}Trigger"]
        assert set(render_trigger(trigger)) == set(variant["required"]), kind
        assert set(config) == set(schemas[f"{kind.capitalize()}TriggerConfig"]["properties"])
