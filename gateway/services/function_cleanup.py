"""Every replica's share of a function change, whichever replica made it.

Deleting or renaming a function writes an outbox row for every registered replica in
the same transaction (``function_cleanups``, :mod:`gateway.store.replicas`). Each replica
takes its own rows whenever its change listener wakes it (``NOTIFY fngate_changes``, a
reconnect, or the periodic sweep), does its share, and only then deletes them: at least
once, so a replica whose listener missed the NOTIFY still cleans up when it is back.

- a function deleted: its metric series (by name, even when the name has been taken by a
  new function since), warm workers (busy ones after their call), concurrency gate and
  cached results (this replica's front and the shared rows) go;
- a function renamed: the old name's metric series go.

Besides, the replica reconciles what it holds with the catalog:

- a function whose active version changed since this replica last looked (or that it
  looks at for the first time): the warm workers of its other versions end;
- anything it holds of a function that no longer exists goes (a replica that was
  forgotten for being unseen too long lost its rows: it sweeps everything).

Cleaning up twice is harmless, so the replica that made the change just does it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from executors import WorkerPools
from gateway.services.cache import ResultCache
from gateway.services.changes import EVERYTHING
from gateway.services.concurrency import ConcurrencyGates
from gateway.services.metrics import GatewayMetrics
from gateway.store.functions import FunctionStore
from gateway.store.replicas import FunctionCleanupRow, ReplicaStore

__all__ = ["FunctionCleanup"]

logger = logging.getLogger("fngate.function_cleanup")


class FunctionCleanup:
    """Drops what this replica holds of deleted functions and of replaced versions.

    ``poke`` is a change subscriber; :meth:`run` does the work (it needs the database).
    """

    def __init__(self, *, functions: FunctionStore, replicas: ReplicaStore,
                 pools: WorkerPools, gates: ConcurrencyGates, cache: ResultCache,
                 metrics: GatewayMetrics, sweep_s: float = 30.0,
                 retry_s: float = 1.0) -> None:
        self._functions = functions
        self._replicas = replicas
        self._pools = pools
        self._gates = gates
        self._cache = cache
        self._metrics = metrics
        self._sweep_s = sweep_s
        self._retry_s = retry_s
        self._pending: set[int] = set()
        self._everything = True  # a first sweep when it starts
        self._wake = asyncio.Event()
        # The active version last seen of each function looked at (deleted ones go).
        self._active: dict[int, int | None] = {}

    def poke(self, kind: str, ident: int | None, _sender: int | None = None) -> None:
        """A change subscriber: look at function ``ident`` soon, or at everything."""
        if kind == EVERYTHING:
            self._everything = True
        elif kind == "function" and ident is not None:
            self._pending.add(ident)
        else:
            return
        self._wake.set()

    async def run(self) -> None:
        """Reconcile on every change, and everything every ``sweep_s``, until cancelled."""
        while True:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow the cancellation
            # of a shutdown, and the gateway never stops.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._sweep_s):
                    await self._wake.wait()
            periodic = not self._wake.is_set()
            self._wake.clear()
            ids, self._pending = self._pending, set()
            everything, self._everything = self._everything or periodic, False
            try:
                if periodic and not await self._replicas.beat():
                    everything = True  # forgotten meanwhile: its rows are lost
                await self.take_outbox()
                await self.reconcile(ids, everything=everything)
            except Exception as exc:  # the database may be away: try again, nothing lost
                logger.warning("function cleanup failed; retrying", extra={"error": repr(exc)})
                self._pending |= ids
                self._everything |= everything
                await asyncio.sleep(self._retry_s)
                self._wake.set()

    async def take_outbox(self) -> int:
        """Do this replica's share of every delete and rename written for it, then mark
        the rows done (a failure leaves them for the next round); returns how many."""
        taken = 0
        while rows := await self._replicas.pending():
            for row in rows:
                await self._apply(row)
            await self._replicas.done([row.id for row in rows])
            taken += len(rows)
        return taken

    async def _apply(self, row: FunctionCleanupRow) -> None:
        self._metrics.forget_function(row.function_name)
        if row.kind == "deleted":
            await self._drop(row.function_id)

    async def reconcile(self, function_ids: set[int], *, everything: bool = False) -> None:
        """Clean up after ``function_ids`` (with ``everything``: after every function this
        replica holds something of) as the catalog says now."""
        local = self._pools.function_versions()
        ids = set(function_ids)
        if everything:
            ids |= set(local) | self._gates.function_ids() | set(self._active)
        if ids:
            active = await self._functions.active_versions(ids)
            for function_id in ids:
                if function_id not in active:
                    await self._drop(function_id)
                else:
                    await self._follow_version(function_id, active[function_id],
                                               local.get(function_id, set()))
        names = self._metrics.function_names()
        if names and (ids or everything):
            for name in names - await self._functions.existing_names(names):
                self._metrics.forget_function(name)

    async def _drop(self, function_id: int) -> None:
        self._active.pop(function_id, None)
        self._gates.forget(function_id)
        await self._pools.drop_function(function_id)
        await self._cache.drop_function(function_id)

    async def _follow_version(self, function_id: int, now: int | None,
                              versions: set[int]) -> None:
        """Workers of other versions end when the active version changed since last seen
        here (or was never seen: then from here on only a change drops them, so a session
        pinned to an older version loses its worker at most once, as on a change)."""
        before = self._active.get(function_id)
        self._active[function_id] = now
        if now is not None and before != now and versions - {now}:
            await self._pools.drop_function(function_id, keep_version=now)
