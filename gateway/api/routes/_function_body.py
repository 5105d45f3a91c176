"""A function's body as JSON or as a ``multipart/form-data`` form, decoded to one shape."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.datastructures import UploadFile
from starlette.requests import Request

from gateway.api.routes._body import has_nul, read_json, refuse_nul
from gateway.core.errors import InvalidRequest
from gateway.schemas.functions import FORM_INTEGER_FIELDS, FORM_JSON_FIELDS
from gateway.schemas.json_depth import loads_bounded

__all__ = ["read_function_body"]


async def read_function_body(request: Request) -> Any:
    """The JSON body, or a multipart form decoded to the same shape (integers from decimal
    text, JSON fields parsed, ``requirements`` as ``dependencies``)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        return await read_json(request)
    body: dict[str, Any] = {}
    async with request.form() as form:
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                try:
                    text = (await value.read()).decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise InvalidRequest(f"uploaded file '{key}' is not UTF-8 text",
                                         details={"field": key}) from exc
                if has_nul(text):
                    raise InvalidRequest(f"uploaded file '{key}' contains a NUL character",
                                         details={"field": key})
                body[key] = text
            else:
                if has_nul(value):
                    raise InvalidRequest(f"form field '{key}' contains a NUL character",
                                         details={"field": key})
                body[key] = _form_value(key, value)
    if "requirements" in body:
        if "dependencies" in body:
            raise InvalidRequest("give either 'requirements' or 'dependencies', not both",
                                 details={"field": "requirements"})
        body["dependencies"] = _requirement_lines(body.pop("requirements"))
    return body


def _requirement_lines(text: str) -> list[str]:
    """A requirements file (an upload or a text field): one specifier a line, # comments."""
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def _form_value(key: str, value: str) -> Any:
    if key in FORM_JSON_FIELDS:
        try:
            parsed = loads_bounded(value.encode(), what=f"form field '{key}'")
        except orjson.JSONDecodeError as exc:
            raise InvalidRequest(f"form field '{key}' must be JSON",
                                 details={"field": key}) from exc
        refuse_nul(parsed, f"form field '{key}'", {"field": key})
        return parsed
    if key in FORM_INTEGER_FIELDS:
        try:
            return int(value)
        except ValueError as exc:
            raise InvalidRequest(f"'{key}' must be an integer", details={"field": key}) from exc
    return value
