"""Compatibility dialects: API documents that clients already have, spoken verbatim under
their own base paths over the same services as the native API (see ``docs/compat.md``)."""

from __future__ import annotations

from collections.abc import Collection

from gateway.dialects.base import Dialect, ErrorBody, prefixed

__all__ = ["Dialect", "ErrorBody", "all_dialects", "mounted_dialects", "prefixed"]


def all_dialects() -> list[Dialect]:
    """Every dialect the gateway serves, each under its own base path."""
    from gateway.dialects import function_api, function_service, kube_serverless, project_functions

    return [function_api.dialect, kube_serverless.dialect, project_functions.dialect,
            function_service.dialect]


def mounted_dialects(names: Collection[str]) -> list[Dialect]:
    """The dialects of ``all_dialects()`` that ``names`` names (``FNGATE_DIALECTS``), in its
    order."""
    return [dialect for dialect in all_dialects() if dialect.name in names]
