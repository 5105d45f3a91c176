"""A version's build fields: rendered as the OpenAPI document describes them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from gateway.api.openapi import build_openapi
from gateway.api.routes import all_routes
from gateway.core.models import VersionRecord
from gateway.schemas.base import render
from gateway.schemas.versions import version_view

NOW = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def _version(**extra: object) -> VersionRecord:
    return VersionRecord(id=1, function_id=1, version=1, runtime="python", code="", handler="h",
                         dependencies=["six"], build_status="success", build_log="ok",
                         created_at=NOW, **extra)  # type: ignore[arg-type]


def _render(version: VersionRecord) -> dict[str, Any]:
    body: dict[str, Any] = render(version_view(version))
    return body


def test_version_schema_has_every_field_the_model_renders() -> None:
    schemas = build_openapi("1.2.3", all_routes())["components"]["schemas"]
    schema = schemas["Version"]
    body = _render(_version())
    assert set(body) == set(schema["properties"]) == set(schema["required"])
    rebuild = _render(_version(rebuild_status="building", rebuild_dependencies=["six"],
                               rebuild_started_at=NOW))["rebuild"]
    # A nullable object: ``anyOf`` its schema (a component) and null.
    given, null = schema["properties"]["rebuild"]["anyOf"]
    assert null == {"type": "null"}
    rebuild_schema = schemas[given["$ref"].rsplit("/", 1)[-1]]
    assert set(rebuild) == set(rebuild_schema["required"])


def test_a_version_renders_its_build_and_pending_rebuild() -> None:
    body = _render(_version(resolved_dependencies=["six"], build_duration_ms=1234,
                            build_finished_at=NOW, rebuild_status="failed",
                            rebuild_dependencies=["six", "idna"],
                            rebuild_log="no such package", rebuild_started_at=NOW))
    assert body["resolved_dependencies"] == ["six"] and body["build_duration_ms"] == 1234
    assert body["build_finished_at"] == "2024-01-01T00:00:00.000Z"
    assert body["rebuild"] == {"status": "failed", "dependencies": ["six", "idna"],
                               "build_log": "no such package",
                               "started_at": "2024-01-01T00:00:00.000Z"}
    plain = _render(_version())
    assert plain["rebuild"] is None and plain["resolved_dependencies"] is None
    assert plain["build_duration_ms"] is None and plain["build_finished_at"] is None
