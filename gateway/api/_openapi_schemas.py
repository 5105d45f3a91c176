"""``$ref`` and content helpers of the OpenAPI document (package-private; see
:mod:`gateway.api.openapi`). The component schemas are generated from the wire models."""

from __future__ import annotations

from typing import Any

from gateway.api.operations import JSON

__all__ = ["JSON", "json_content", "ref", "schema_ref"]


def ref(section: str, name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/{section}/{name}"}


def schema_ref(name: str) -> dict[str, Any]:
    return ref("schemas", name)


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {JSON: {"schema": schema}}
