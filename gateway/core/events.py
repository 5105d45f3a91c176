"""The kinds of audit events, shared by their store and their wire models: a function's
(each also in its project's trail) and a project's own."""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["EVENT_TYPES", "PROJECT_EVENT_TYPES", "AuditEventType", "EventType",
           "ProjectEventType"]

EventType = Literal[
    "created", "updated", "deployed", "activated", "rolled_back", "build_failed",
    "trigger_added", "trigger_removed", "deleted",
]
EVENT_TYPES: tuple[EventType, ...] = get_args(EventType)

#: Changes of a project itself (no function): its creation, description and quotas, its
#: layers (names only for secrets), start and stop, its webhooks, its deletion.
ProjectEventType = Literal[
    "project_created", "project_updated", "quotas_changed", "environment_changed",
    "dependencies_changed", "secrets_changed", "project_started", "project_stopped",
    "webhook_added", "webhook_removed", "project_deleted",
]
PROJECT_EVENT_TYPES: tuple[ProjectEventType, ...] = get_args(ProjectEventType)

AuditEventType = Literal[EventType, ProjectEventType]
