"""Wire models of a function's audit trail."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from gateway.core.events import EventType
from gateway.schemas.base import ResponseModel, Timestamp

__all__ = ["Event", "FunctionEvents"]


class Event(ResponseModel):
    """One audit event: a change to a function, recorded with it."""

    id: int
    type: EventType
    description: str = Field(description="The change in a sentence.")
    metadata: dict[str, Any] = Field(description="Details of the change, by `type` (listed "
                                                 "in the operation's description).")
    actor: str | None = Field(description="The token's `sub`; null for the gateway itself.")
    created_at: Timestamp


class FunctionEvents(ResponseModel):
    """A function's audit events."""

    events: list[Event] = Field(description="Newest first.")
