"""Changes to the function catalog: a function created, updated or deleted, a version
added, activated or rolled back, and everything each change sets off.

Each change commits with its audit events (a create also with the function's triggers) in
one transaction. What follows the commit is the same for every entry point, so it lives
here rather than in a route: builds are scheduled or the dependency layers followed, warm
workers of the old code are dropped, the metric series and cached results of a name or a
function that went are forgotten, and webhook subscribers are told.

Reads (a page of functions, one function, its versions) go to
:class:`~gateway.store.functions.FunctionStore` directly: nothing follows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import MISSING

from executors import WorkerPools
from gateway.core.models import FunctionRecord, VersionRecord
from gateway.schemas.functions import FunctionCreate, FunctionUpdate
from gateway.schemas.versions import VersionCreate
from gateway.services import audit
from gateway.services.audit import Actor
from gateway.services.builds import BuildManager
from gateway.services.cache import ResultCache
from gateway.services.metrics import GatewayMetrics
from gateway.services.webhooks import WebhookService
from gateway.store.functions import FunctionStore, NewVersion, VersionChange, function_not_found
from gateway.store.triggers import TriggerRecord, TriggerStore

__all__ = ["CreatedFunction", "FunctionService"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CreatedFunction:
    """A function as it is right after its create, with the triggers made with it (in the
    body's order; empty when it had none)."""

    function: FunctionRecord
    triggers: list[TriggerRecord]


class FunctionService:
    """Creates, changes and deletes functions and their versions, and sets off what each
    change needs. ``actor`` is the caller (its token's ``sub`` and ``iss``), recorded in
    the audit events."""

    def __init__(self, *, functions: FunctionStore, builds: BuildManager, pools: WorkerPools,
                 cache: ResultCache, metrics: GatewayMetrics,
                 webhooks: WebhookService) -> None:
        self._functions = functions
        self._builds = builds
        self._pools = pools
        self._cache = cache
        self._metrics = metrics
        self._webhooks = webhooks

    async def create(self, body: FunctionCreate, *, actor: Actor) -> CreatedFunction:
        """Create the function with its version 1 (active) and its triggers, with their audit
        events, in one transaction; then build its dependencies (it answers ``building``
        until then) or its project's and the system's layers in the background, and queue
        ``function.created`` (and ``function.deployed`` when it is ready).

        A name in use or ambiguous → ``Conflict``; an unknown project → ``NotFound``.
        """
        source = body.source
        assert source is not None  # the model requires one
        version = NewVersion(runtime=body.runtime, code=source, handler=body.handler,
                             dependencies=body.dependencies or [])
        triggers: list[TriggerRecord] = []
        record = audit.function_created(body.name, version.runtime, actor,
                                        building=version.needs_build, triggers=lambda: triggers)

        async def add_triggers_and_record(conn: Any, function_id: int) -> None:
            for t in body.nested_triggers:
                triggers.append(await TriggerStore.insert_on(
                    conn, function_id, name=t.name, type=t.type, enabled=t.enabled,
                    config=t.config, http_path=t.http_path))
            await record(conn, function_id)  # after the triggers: it records them too

        function_id = await self._functions.create(body.name, body.columns(), version,
                                                   also=add_triggers_and_record)
        if version.needs_build:
            self._builds.schedule(function_id, 1, version.runtime, version.dependencies,
                                  actor=actor)
        else:  # its project's or the system's dependencies, if any, are built in the background
            await self._builds.follow_layers(function_id)
        function = await self._functions.get_by_id(function_id)
        assert function is not None
        await self._webhooks.function_created(function)
        return CreatedFunction(function=function, triggers=triggers)

    async def update(self, function: FunctionRecord, body: FunctionUpdate, *,
                     actor: Actor) -> FunctionRecord:
        """Change ``function`` as ``body`` says, with its ``updated`` (and ``deployed``) audit
        events. A change to the code, handler, runtime or dependencies makes a new version,
        active at once when it needs no build (``function.deployed`` is queued), else when
        its build succeeds. Warm workers are dropped either way; a rename forgets the old
        name's metric series. Returns the function as it is now.

        Gone meanwhile → ``NotFound``; a name in use or ambiguous → ``Conflict``.
        """
        rename = body.name if body.name not in (MISSING, function.name) else None
        moved_from = function.project if body.project not in (MISSING, function.project) \
            else None
        record = audit.function_updated(function.id, rename or function.name, actor,
                                        fields=body.sent(), from_project=moved_from)
        exists, number, version = await self._functions.update(
            function.id, body.columns(), _version_change(body), rename=rename, also=record)
        if not exists:
            raise function_not_found(function.name)
        if rename is not None:
            self._metrics.forget_function(function.name)
        if version is not None and number is not None and version.needs_build:
            self._builds.schedule(function.id, number, version.runtime, version.dependencies,
                                  actor=actor)
        deployed = number if version is not None and not version.needs_build else None
        return await self._settle(function, deployed=deployed)

    async def delete(self, function: FunctionRecord, *, actor: Actor) -> None:
        """Delete ``function`` and its versions with its ``deleted`` audit event (its jobs
        stay); its warm workers, cached results and metric series go, and
        ``function.deleted`` is queued."""
        await self._functions.delete(
            function.id, also=audit.function_deleted(function.id, function.name, actor,
                                                     project=function.project))
        self._metrics.forget_function(function.name)
        await self._pools.drop_function(function.id)
        await self._cache.drop_function(function.id)
        await self._webhooks.function_event("function.deleted", function)

    async def add_version(self, function: FunctionRecord, body: VersionCreate, *,
                          actor: Actor) -> VersionRecord:
        """Add the next version, merged over the newest one that did not fail its build, with
        its ``deployed`` (and ``activated``) audit events; its dependencies build in the
        background. With ``body.activate`` it becomes active at once when it needs no build
        (as :meth:`activate_version` does), else when its build succeeds. Returns the
        version as stored before its build started (``building`` when it has one).

        Gone meanwhile → ``NotFound``; another next number than ``body.version`` →
        ``Conflict``.
        """
        change = VersionChange(code=body.source,
                               handler=None if body.handler is MISSING else body.handler,
                               dependencies=body.dependencies)
        added = await self._functions.add_version(
            function.id, change, activate=body.activate, expected_number=body.version,
            also=audit.version_added(function.id, actor, activate=body.activate))
        if added is None:
            raise function_not_found(function.name)
        number, version, activated = added
        # Read before the build starts, so the answer says ``building`` when it built.
        created = await self._functions.get_version(function.id, number)
        if version.needs_build:
            self._builds.schedule(function.id, number, version.runtime, version.dependencies,
                                  actor=actor)
        if activated:
            await self._settle(function, deployed=number)
        if created is None:  # deleted meanwhile
            raise function_not_found(function.name)
        return created

    async def activate_version(self, function: FunctionRecord, number: int, *,
                               actor: Actor) -> FunctionRecord:
        """Make version ``number`` active, with its ``activated`` audit event; then as
        :meth:`_settle` says. The active version already → nothing changes or is recorded.
        Returns the function as it is now.

        An unknown version → ``NotFound`` (``VERSION_NOT_FOUND``); one building or failed
        → ``Conflict``.
        """
        return await self._activate(function, number, actor)

    async def rollback(self, function: FunctionRecord, *, actor: Actor) -> FunctionRecord:
        """Activate the highest successfully built version below the active one, with its
        ``rolled_back`` audit event; then as :meth:`_settle` says. Returns the function as
        it is now. None to go back to → ``Conflict``."""
        return await self._activate(function, None, actor)

    async def _activate(self, function: FunctionRecord, number: int | None,
                        actor: Actor) -> FunctionRecord:
        result = await self._functions.activate_version(
            function.id, number,
            also=audit.version_activated(function.id, actor, rollback=number is None))
        if result is None:
            raise function_not_found(function.name)
        previous, now = result
        if previous != now:
            return await self._settle(function, deployed=now)
        current = await self._functions.get_by_id(function.id)
        if current is None:
            raise function_not_found(function.name)
        return current

    async def _settle(self, function: FunctionRecord, *, deployed: int | None) -> FunctionRecord:
        """After a change committed: warm workers of the old code go, the version now
        serving is built for the dependency layers as they are if they changed since it was
        built (a new version without a build of its own, an activation, a move to another
        project), and ``function.deployed`` is queued when version ``deployed`` became
        active. Returns the function as it is now."""
        await self._pools.drop_function(function.id)
        await self._builds.follow_layers(function.id)
        current = await self._functions.get_by_id(function.id)
        if current is None:
            raise function_not_found(function.name)
        if deployed is not None:
            await self._webhooks.function_event("function.deployed", current, version=deployed)
        return current


def _version_change(body: FunctionUpdate) -> VersionChange | None:
    """What an update changes of the code, or None when it makes no new version."""
    if not body.changes_code:
        return None
    return VersionChange(
        runtime=None if body.runtime is MISSING else body.runtime, code=body.source,
        handler=body.handler if "handler" in body.model_fields_set else None,
        dependencies=body.dependencies,
    )
