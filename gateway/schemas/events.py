"""Wire models of the audit trails: a function's, and a project's (its own changes and its
functions')."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import Field

from gateway.core.events import AuditEventType, EventType
from gateway.schemas.base import ResponseModel, Timestamp

__all__ = ["Event", "FunctionEvents", "ProjectEvent", "ProjectEvents"]

_T = TypeVar("_T")


class _AuditEvent(ResponseModel, Generic[_T]):
    """The fields of every audit event; ``_T`` is the type's enumeration."""

    id: int
    type: _T
    description: str = Field(description="The change in a sentence.")
    metadata: dict[str, Any] = Field(description="Details of the change, by `type` (listed "
                                                 "in the operation's description).")
    actor: str | None = Field(description="The `sub` of the token that made the change; "
                                          "null for the gateway itself.")
    actor_issuer: str | None = Field(default=None,
                                     description="That token's `iss`, when it had one.")
    created_at: Timestamp


class Event(_AuditEvent[EventType]):
    """One audit event: a change to a function, recorded with it."""


class FunctionEvents(ResponseModel):
    """A function's audit events."""

    events: list[Event] = Field(description="Newest first.")


class ProjectEvent(_AuditEvent[AuditEventType]):
    """One audit event of a project: a change to the project itself (`function` null) or
    to one of its functions (the same event as the function's trail holds)."""

    function: str | None = Field(description="The function's name at the change; null for "
                                             "a change of the project itself.")


class ProjectEvents(ResponseModel):
    """A project's audit events."""

    events: list[ProjectEvent] = Field(description="Newest first.")
