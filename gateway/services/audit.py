"""The audit events of API.md's "Observability" section, recorded with their change.

Each helper returns (or is) an ``also`` callback for a store method, so the event
is written on the change's connection, in its transaction. ``actor`` is the
caller (its token's ``sub`` and ``iss``; a bare ``sub`` where only that is known); None
for what the gateway does on its own (a build resumed at start-up). Events of a project
itself (``project_*``, its layers, quotas and webhooks) are written by
:func:`project_event`; secrets are recorded by name only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterable
from typing import Any

from auth import Principal
from gateway.core.events import ProjectEventType
from gateway.store.events import EventStore
from gateway.store.triggers import TriggerRecord

#: Who made a change: the caller, its token's ``sub`` alone, or None (the gateway itself).
Actor = Principal | str | None

__all__ = [
    "Actor",
    "project_event",
    "build_outcome",
    "rebuild_outcome",
    "version_activated",
    "version_added",
    "function_created",
    "function_deleted",
    "function_updated",
    "trigger_added",
    "trigger_removed",
]


def _by(actor: Actor) -> dict[str, str | None]:
    """The event's ``actor`` and ``actor_issuer`` columns for ``actor``."""
    if isinstance(actor, Principal):
        return {"actor": actor.subject, "actor_issuer": actor.issuer}
    return {"actor": actor, "actor_issuer": None}


def project_event(project: str, type: ProjectEventType, description: str, actor: Actor,
                  **metadata: Any) -> Callable[[Any], Awaitable[None]]:
    """An event of ``project`` itself, for a project store method's ``also``."""

    async def record(conn: Any) -> None:
        await EventStore.record_project_on(conn, project=project, type=type,
                                           description=description, metadata=metadata,
                                           **_by(actor))

    return record


def _trigger_metadata(trigger: TriggerRecord) -> dict[str, Any]:
    return {"trigger_id": trigger.id, "trigger_type": trigger.type, "trigger_name": trigger.name}


def _trigger_label(trigger: TriggerRecord) -> str:
    config = trigger.config or {}
    detail = config.get("path") or config.get("schedule") or config.get("queue")
    return f"{trigger.type} trigger {trigger.id}" + (f" ({detail})" if detail else "")


async def _trigger_added_on(conn: Any, function_id: int, function_name: str,
                            trigger: TriggerRecord, actor: Actor) -> None:
    await EventStore.record_on(
        conn, function_id=function_id, function_name=function_name, type="trigger_added",
        description=f"{_trigger_label(trigger)} added", **_by(actor),
        metadata=_trigger_metadata(trigger))


def function_created(name: str, runtime: str, actor: Actor, *,
                     building: bool, triggers: Callable[[], Iterable[TriggerRecord]]
                     ) -> Callable[[Any, int], Awaitable[None]]:
    """``created`` (and ``trigger_added`` for triggers made with it); for ``create``'s
    ``also``, run after the triggers are inserted."""

    async def record(conn: Any, function_id: int) -> None:
        await EventStore.record_on(
            conn, function_id=function_id, function_name=name, type="created",
            description=f"function '{name}' created ({runtime}, version 1"
                        + (", building)" if building else ")"),
            **_by(actor), metadata={"version": 1, "runtime": runtime,
                                   "status": "building" if building else "ready"})
        for trigger in triggers():
            await _trigger_added_on(conn, function_id, name, trigger, actor)

    return record


def function_updated(function_id: int, name: str, actor: Actor, *,
                     fields: Collection[str], from_project: str | None = None
                     ) -> Callable[[Any, int | None], Awaitable[None]]:
    """``updated`` naming the fields sent (and ``metadata.from_project`` for a move: it is
    recorded in the new project and shown in both), and ``deployed`` when a new version
    was made."""

    async def record(conn: Any, new_version: int | None) -> None:
        changed = sorted(fields)
        metadata: dict[str, Any] = {"fields": changed}
        if from_project is not None:
            metadata["from_project"] = from_project
        await EventStore.record_on(
            conn, function_id=function_id, function_name=name, type="updated",
            description=f"function '{name}' updated: {', '.join(changed) or 'no fields'}"
                        + (f" (moved from project '{from_project}')" if from_project else ""),
            **_by(actor), metadata=metadata)
        if new_version is not None:
            building = await conn.fetchval(
                "SELECT build_status = 'building' FROM function_versions"
                " WHERE function_id = $1 AND version = $2", function_id, new_version)
            state = "building; activated when its build succeeds" if building else "active"
            await EventStore.record_on(
                conn, function_id=function_id, function_name=name, type="deployed",
                description=f"version {new_version} deployed ({state})", **_by(actor),
                metadata={"version": new_version,
                          "status": "building" if building else "ready"})

    return record


def function_deleted(function_id: int, name: str, actor: Actor, *, project: str
                     ) -> Callable[[Any], Awaitable[None]]:
    """``deleted``, in ``project`` (the function's row is gone when it is written)."""

    async def record(conn: Any) -> None:
        await EventStore.record_on(
            conn, function_id=function_id, function_name=name, type="deleted",
            description=f"function '{name}' deleted", **_by(actor), metadata={},
            project=project)

    return record


def trigger_added(function_id: int, name: str, actor: Actor
                  ) -> Callable[[Any, TriggerRecord], Awaitable[None]]:
    async def record(conn: Any, trigger: TriggerRecord) -> None:
        await _trigger_added_on(conn, function_id, name, trigger, actor)

    return record


def trigger_removed(function_id: int, name: str, trigger: TriggerRecord, actor: Actor
                    ) -> Callable[[Any], Awaitable[None]]:
    async def record(conn: Any) -> None:
        await EventStore.record_on(
            conn, function_id=function_id, function_name=name, type="trigger_removed",
            description=f"{_trigger_label(trigger)} removed", **_by(actor),
            metadata=_trigger_metadata(trigger))

    return record


def build_outcome(function_id: int, version: int, actor: Actor, *, log: str
                  ) -> Callable[[Any, bool], Awaitable[None]]:
    """``activated`` when a successful build made its version active, ``build_failed``
    (with the end of the build log) when it failed."""

    async def record(conn: Any, activated: bool) -> None:
        row = await conn.fetchrow(
            "SELECT f.name, v.build_status FROM function_versions v"
            " JOIN functions f ON f.id = v.function_id"
            " WHERE v.function_id = $1 AND v.version = $2", function_id, version)
        if row is None:
            return
        if row["build_status"] == "failed":
            await EventStore.record_on(
                conn, function_id=function_id, function_name=row["name"], type="build_failed",
                description=f"the build of version {version} failed", **_by(actor),
                metadata={"version": version, "build_log": log[-2000:]})
        elif activated:
            await EventStore.record_on(
                conn, function_id=function_id, function_name=row["name"], type="activated",
                description=f"version {version} activated (its build succeeded)", **_by(actor),
                metadata={"version": version})

    return record


def rebuild_outcome(function_id: int, function_name: str, version: int,
                    dependencies: list[str], *, ok: bool, log: str
                    ) -> Callable[[Any], Awaitable[None]]:
    """After a project or system dependency change: ``deployed`` (``metadata.rebuild``)
    when the version now serves with ``dependencies``, ``build_failed`` (with the end of
    the build log) when it keeps serving with its previous set."""

    async def record(conn: Any) -> None:
        if ok:
            await EventStore.record_on(
                conn, function_id=function_id, function_name=function_name, type="deployed",
                description=f"version {version} rebuilt for the project and system "
                            "dependencies", actor=None,
                metadata={"version": version, "dependencies": dependencies, "rebuild": True})
        else:
            await EventStore.record_on(
                conn, function_id=function_id, function_name=function_name,
                type="build_failed",
                description=f"the rebuild of version {version} for the project and system "
                            "dependencies failed; it keeps serving with its previous build",
                actor=None,
                metadata={"version": version, "dependencies": dependencies, "rebuild": True,
                          "build_log": log[-2000:]})

    return record


def version_added(function_id: int, actor: Actor, *, activate: bool
                  ) -> Callable[[Any, str, int, int | None, bool], Awaitable[None]]:
    """``deployed`` for a version made with ``POST …/versions``, and ``activated`` when it
    became active at once; for ``FunctionStore.add_version``'s ``also``."""

    async def record(conn: Any, name: str, number: int, previous: int | None,
                     activated: bool) -> None:
        building = await conn.fetchval(
            "SELECT build_status = 'building' FROM function_versions"
            " WHERE function_id = $1 AND version = $2", function_id, number)
        if building:
            state = ("building; activated when its build succeeds" if activate
                     else "building; not activated")
        else:
            state = "active" if activated else "not activated"
        await EventStore.record_on(
            conn, function_id=function_id, function_name=name, type="deployed",
            description=f"version {number} deployed ({state})", **_by(actor),
            metadata={"version": number, "status": "building" if building else "ready",
                      "activate": activate})
        if activated:
            await EventStore.record_on(
                conn, function_id=function_id, function_name=name, type="activated",
                description=f"version {number} activated (was {previous})", **_by(actor),
                metadata={"version": number, "previous_version": previous})

    return record


def version_activated(function_id: int, actor: Actor, *, rollback: bool
                      ) -> Callable[[Any, str, int | None, int], Awaitable[None]]:
    """``activated`` (``PUT …/versions/{version}/active``) or ``rolled_back``
    (``POST …/rollback``); for ``FunctionStore.activate_version``'s ``also``."""

    async def record(conn: Any, name: str, previous: int | None, number: int) -> None:
        if rollback:
            await EventStore.record_on(
                conn, function_id=function_id, function_name=name, type="rolled_back",
                description=f"rolled back from version {previous} to version {number}",
                **_by(actor), metadata={"version": number, "previous_version": previous})
        else:
            await EventStore.record_on(
                conn, function_id=function_id, function_name=name, type="activated",
                description=f"version {number} activated (was {previous})", **_by(actor),
                metadata={"version": number, "previous_version": previous})

    return record
