"""What both clients pass to their ``httpx`` client."""

from __future__ import annotations

from typing import Any

from fngate_client._version import VERSION

__all__ = ["http_options"]


def http_options(base_url: str, token: str | None, timeout: float,
                 headers: dict[str, str] | None) -> dict[str, Any]:
    """Base URL, bearer token, timeout and a ``User-Agent`` naming this client."""
    merged = {"User-Agent": f"fngate-client/{VERSION}", **(headers or {})}
    if token:
        merged["Authorization"] = f"Bearer {token}"
    return {"base_url": base_url.rstrip("/"), "headers": merged, "timeout": timeout}
