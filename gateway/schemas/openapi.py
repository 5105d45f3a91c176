"""The OpenAPI document as the body of ``/openapi.json``."""

from __future__ import annotations

from typing import Any

from pydantic import RootModel

__all__ = ["OpenAPIDocument"]


class OpenAPIDocument(RootModel[dict[str, Any]]):
    """An OpenAPI 3.1 document (this one)."""
