"""The kinds of a function's audit events, shared by their store and their wire model."""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["EVENT_TYPES", "EventType"]

EventType = Literal[
    "created", "updated", "deployed", "activated", "rolled_back", "build_failed",
    "trigger_added", "trigger_removed", "deleted",
]
EVENT_TYPES: tuple[EventType, ...] = get_args(EventType)
