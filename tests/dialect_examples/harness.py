"""What a flow of examples runs against: an HTTP client on a gateway, in-process or
``fngate serve``, and a way to get a token with given scopes from that gateway."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

__all__ = ["Api", "Flow"]


@dataclass(frozen=True, slots=True)
class Api:
    """A gateway as the documents' clients see it."""

    client: httpx.AsyncClient
    #: Authorization headers with a token of the given (space-separated) scopes.
    mint: Callable[[str], dict[str, str]]


#: One flow of a document's examples: its requests in order, each answer asserted.
Flow = Callable[[Api], Awaitable[None]]
