"""The document's paths and component schemas, written from the declared operations
(:mod:`gateway.api.operations`) and their pydantic models."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, models_json_schema
from pydantic_core import CoreSchema

from gateway.api._openapi_responses import error
from gateway.api._openapi_schemas import JSON, ref
from gateway.api.operations import Operation, Text

__all__ = ["operation_paths"]

MULTIPART = "multipart/form-data"

Mode = Literal["validation", "serialization"]


class _Schemas(GenerateJsonSchema):
    """pydantic's JSON Schema without the title it derives from each field's name."""

    def field_title_should_be_set(self, schema: CoreSchema) -> bool:
        return False


def operation_paths(
    operations: Sequence[Operation], extra_models: Iterable[type[BaseModel]] = ()
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(paths, schemas)`` for ``operations``; ``extra_models`` are models the document
    names elsewhere (an outgoing webhook's body)."""
    wanted: dict[tuple[type[BaseModel], Mode], None] = {}
    for op in operations:
        if op.body is not None:
            wanted[(op.body, "validation")] = None
        if op.form is not None:
            wanted[(op.form.model, "validation")] = None
        for reply in op.replies.values():
            events = reply.text.events if reply.text is not None else None
            for model in (reply.model, events):
                if model is not None:
                    wanted[(model, "serialization")] = None
    for model in extra_models:
        wanted[(model, "serialization")] = None
    refs, top = models_json_schema(list(wanted), ref_template="#/components/schemas/{model}",
                                   schema_generator=_Schemas)
    schemas: dict[str, Any] = top.get("$defs", {})
    paths: dict[str, Any] = {}
    for op in operations:
        item = paths.setdefault(_template(op.path),
                                {"parameters": [ref("parameters", "X-Request-ID")]})
        item[op.method.lower()] = _operation(op, refs)
    return paths, schemas


def _template(path: str) -> str:
    """The document's path template of a route's path: ``/fn/{path:path}`` → ``/fn/{path}``
    (a Starlette converter is the route's business)."""
    return _CONVERTER.sub(r"{\1}", path)


_CONVERTER = re.compile(r"\{(\w+):\w+\}")


def _operation(op: Operation, refs: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {
        "operationId": op.operation_id, "tags": [op.tag], "summary": op.summary,
        "description": op.description, "security": _security(op.scopes),
    }
    if op.parameters:
        document["parameters"] = [
            ref("parameters", p) if isinstance(p, str) else p for p in op.parameters
        ]
    if op.body is not None:
        document["requestBody"] = {
            "required": op.body_required,
            "content": {op.body_media_type: {"schema": refs[(op.body, "validation")]}},
        }
        if op.form is not None:
            document["requestBody"]["content"][MULTIPART] = {
                "schema": refs[(op.form.model, "validation")],
                "encoding": {name: {"contentType": JSON} for name in op.form.json_fields},
            }
    responses: dict[str, Any] = {}
    # "default" after the numbered statuses, as the three-digit ones sort among themselves.
    for status, reply in sorted(op.replies.items(), key=lambda item: str(item[0])):
        response: dict[str, Any] = {
            "description": reply.description,
            "headers": dict(_header(h) for h in ("X-Request-ID", *reply.headers)),
        }
        content: dict[str, Any] = {}
        if reply.model is not None:
            content[reply.media_type] = {"schema": refs[(reply.model, "serialization")]}
        if reply.text is not None:
            content[reply.text.media_type] = _text(reply.text, refs)
        if content:
            response["content"] = content
        responses[str(status)] = response
    for status in sorted(_errors(op) - set(op.replies)):
        responses[str(status)] = error(status)
    document["responses"] = responses
    document.update(op.extra)
    return document


def _text(text: Text, refs: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if text.description:
        schema["description"] = text.description
    media: dict[str, Any] = {"schema": schema}
    if text.events is not None:
        # OpenAPI 3.1 cannot type the events of a stream; this names the model of each
        # event's `data`.
        media["x-event-data"] = refs[(text.events, "serialization")]
    return media


def _header(header: str | tuple[str, str]) -> tuple[str, dict[str, str]]:
    name, component = (header, header) if isinstance(header, str) else header
    return name, ref("headers", component)


def _security(scopes: tuple[str, ...] | None) -> list[dict[str, list[str]]]:
    if scopes is None:
        return []  # no token needed
    if not scopes:
        return [{"bearerAuth": []}]  # any valid token
    return [{"bearerAuth": [scope]} for scope in scopes]


def _errors(op: Operation) -> set[int]:
    """The operation's own errors and the ones its kind implies: a token (401, and 403 when
    scopes are needed), a body (400, 413), and 500 everywhere."""
    statuses = {*op.errors, 500}
    if op.scopes is not None:
        statuses.add(401)
        if op.scopes:
            statuses.add(403)
    if op.body is not None:
        statuses |= {400, 413}
    return statuses
