"""A function's triggers: adding, changing and removing them, with their audit events.

Cron schedules and queue consumers follow without being told here: every trigger change is
announced on ``fngate_changes`` in its transaction (:mod:`gateway.store.triggers`), which
this replica hears as the others do.
"""

from __future__ import annotations

from gateway.core.errors import NotFound
from gateway.core.models import FunctionRecord
from gateway.schemas.triggers import TriggerCreate, TriggerUpdate
from gateway.services import audit
from gateway.services.audit import Actor
from gateway.store.triggers import TriggerRecord, TriggerStore

__all__ = ["TriggerService", "trigger_not_found"]


def trigger_not_found(trigger: object) -> NotFound:
    """The 404 for a trigger that is not one of the function's."""
    return NotFound(f"trigger '{trigger}' does not exist", code="TRIGGER_NOT_FOUND")


class TriggerService:
    """The triggers of functions already looked up; ``actor`` is the token's subject."""

    def __init__(self, store: TriggerStore) -> None:
        self._store = store

    async def for_function(self, function: FunctionRecord) -> list[TriggerRecord]:
        """The function's triggers, oldest first."""
        return await self._store.for_function(function.id)

    async def get(self, function: FunctionRecord, trigger_id: int) -> TriggerRecord:
        """One of the function's triggers; NotFound (``TRIGGER_NOT_FOUND``) otherwise."""
        trigger = await self._store.get(trigger_id, function.id)
        if trigger is None:
            raise trigger_not_found(trigger_id)
        return trigger

    async def create(self, function: FunctionRecord, body: TriggerCreate, *,
                     actor: Actor) -> TriggerRecord:
        """Add a trigger and its ``trigger_added`` event in one transaction; Conflict when
        another trigger serves its HTTP path or the function was deleted meanwhile."""
        new = body.root.stored()
        return await self._store.create(
            function.id, name=new.name, type=new.type, enabled=new.enabled, config=new.config,
            http_path=new.http_path,
            also=audit.trigger_added(function.id, function.name, actor))

    async def update(self, current: TriggerRecord, body: TriggerUpdate) -> TriggerRecord:
        """Store ``body`` (validated over ``current``); NotFound when the trigger went
        meanwhile, Conflict when another trigger serves its new HTTP path."""
        changed = body.root.stored()
        trigger = await self._store.update(
            current.id, current.function_id, name=changed.name, enabled=changed.enabled,
            config=changed.config, http_path=changed.http_path)
        if trigger is None:
            raise trigger_not_found(current.id)
        return trigger

    async def delete(self, function: FunctionRecord, trigger_id: int, *,
                     actor: Actor) -> None:
        """Remove one of the function's triggers with its ``trigger_removed`` event;
        NotFound when it is not one of them."""
        current = await self.get(function, trigger_id)
        await self._store.delete(
            current.id, function.id,
            also=audit.trigger_removed(function.id, function.name, current, actor))
