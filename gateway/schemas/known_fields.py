"""Refusing what a request body sends that the API does not know: never ignored silently."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from gateway.core.errors import InvalidRequest

__all__ = ["reject_unknown"]

_MAX_NAME = 100  # a field name is echoed in the error: a 1 MiB key is cut short


def reject_unknown(body: Mapping[str, Any], known: Collection[str], *,
                   refused: Mapping[str, str] | None = None, where: str = "") -> None:
    """Raise 400 ``INVALID_REQUEST`` naming the first key of ``body`` not in ``known``.

    A key in ``refused`` is one the API recognizes but does not accept; its value says
    why (the message reads ``'<field>' <reason>``). Any other unknown key is
    ``unknown field '<field>'``. ``details.field`` is the field, prefixed with ``where``
    (``"resources."``) for a nested object.
    """
    for key in body:
        if key in known:
            continue
        name = f"{where}{key}"
        if len(name) > _MAX_NAME:
            name = name[:_MAX_NAME] + "…"
        reason = (refused or {}).get(key)
        if reason is not None:
            raise InvalidRequest(f"'{name}' {reason}", details={"field": name})
        raise InvalidRequest(f"unknown field '{name}'", details={"field": name})
