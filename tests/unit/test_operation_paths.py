"""Paths written from declared operations: templates, media types, a default response."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, RootModel
from starlette.requests import Request
from starlette.responses import Response

from gateway.api.openapi_operations import operation_paths
from gateway.api.operations import Reply, declared_operations, operation, routes_of


class _Anything(RootModel[Any]):
    """Whatever it is."""


class _Thing(BaseModel):
    name: str


@operation("POST", "/things/{rest:path}", operation_id="postThing", tag="t", summary="s",
           description="d", scopes=None, body=_Anything, body_required=False,
           body_media_type="*/*",
           replies={"default": Reply("Anything.", _Anything, media_type="*/*"),
                    404: Reply("Not there.", _Thing), 201: Reply("Made.", _Thing)})
async def _post(request: Request) -> Response:
    return Response()


def _document() -> dict[str, Any]:
    paths, _schemas = operation_paths(declared_operations(routes_of(_post)))
    return paths


def test_a_converter_is_the_routes_business_not_the_documents() -> None:
    assert list(_document()) == ["/things/{rest}"]
    assert routes_of(_post)[0].path == "/things/{rest:path}"  # type: ignore[attr-defined]


def test_media_types_of_the_body_and_a_reply_are_as_declared() -> None:
    operation_ = _document()["/things/{rest}"]["post"]
    anything = {"$ref": "#/components/schemas/_Anything"}
    assert operation_["requestBody"] == {"required": False,
                                         "content": {"*/*": {"schema": anything}}}
    assert set(operation_["responses"]["default"]["content"]) == {"*/*"}
    assert set(operation_["responses"]["201"]["content"]) == {"application/json"}


def test_the_default_response_comes_after_the_numbered_ones() -> None:
    responses = _document()["/things/{rest}"]["post"]["responses"]
    assert list(responses) == ["201", "404", "default", "400", "413", "500"]
