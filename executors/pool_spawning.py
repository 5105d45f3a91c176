"""Starting and ending the pools' worker processes: spawning one in a budget slot,
forgetting one once reaped, keeping generic ones pre-started, and the idle reaper."""

from __future__ import annotations

import asyncio
import time

from executors import eviction
from executors.models import DEFAULT_CPU_MILLIS, DEFAULT_MEMORY_MB
from executors.pool_state import PoolState, Profile, logger
from executors.process import Worker, WorkerFailed
from executors.sandbox import SandboxUnavailable

__all__ = ["WorkerSpawning"]


class WorkerSpawning(PoolState):
    """The process side of :class:`~executors.pool.WorkerPools`."""

    async def _spawn_in_slot(self, profile: Profile) -> Worker:
        """Spawn a generic worker in a budget slot the caller holds; the slot is given back
        when the worker's process is reaped, or at once if the spawn fails."""
        try:
            return await self._spawn(profile)
        except BaseException:
            self.budget.release(profile[0])
            raise

    async def _spawn(self, profile: Profile) -> Worker:
        runtime, network, storage_mb = profile
        command = self._commands[runtime]
        assert command is not None and self._base is not None
        if self._closed:  # a pre-start that waited out its delay past close()
            raise RuntimeError("worker pools are closed")
        if self.sandbox_error is not None:
            self._spawn_failed[runtime] = True
            raise WorkerFailed(f"the sandbox could not be set up: {self.sandbox_error}")
        try:
            worker = await Worker.spawn(
                name=f"{self._prefix}-{next(self._names)}",
                command=command,
                base=self._base,
                user=self._user,
                cgroups=self._cgroups,
                # A function's defaults: most specialize without writing a limit.
                memory_mb=min(DEFAULT_MEMORY_MB, self._settings.max_memory_mb),
                cpu_millis=DEFAULT_CPU_MILLIS,
                sandbox=self.sandbox,
                uids=self._uids,
                network=network,
                storage_mb=storage_mb,
                on_exit=self._forget,
                builds=self._builds,
            )
        except (WorkerFailed, OSError, SandboxUnavailable) as exc:
            self._spawn_failed[runtime] = True
            if isinstance(exc, SandboxUnavailable):
                raise WorkerFailed(f"the sandbox could not be set up: {exc}") from exc
            raise
        self._spawn_failed[runtime] = False
        worker.profile = profile
        if self._closed:
            # close() is waiting for this task, not for this worker (it is in no list):
            # reap it here, so nothing is left running when close() returns.
            worker.kill("closed")
            await worker.wait_closed()
            raise RuntimeError("worker pools are closed")
        self._all.add(worker)  # from here its slot is given back when it is reaped
        return worker

    def _forget(self, worker: Worker) -> None:
        """A worker's process was reaped: drop it everywhere and free its slot."""
        if worker in self._all:
            self._all.discard(worker)
            self.budget.release(worker.runtime)
        self._busy.discard(worker)
        self._evicted.discard(worker)
        self._unlist(worker)

    def _unlist(self, worker: Worker) -> None:
        generic = self._generic.get(worker.profile, []) if worker.profile else []
        if worker in generic:
            generic.remove(worker)
        if worker.spec is not None:
            idle = self._idle.get(worker.spec.key)
            if idle and worker in idle:
                idle.remove(worker)
                if not idle:
                    del self._idle[worker.spec.key]

    def _refill(self, profile: Profile, delay_s: float = 0.0) -> None:
        if self._closed or self.sandbox_error is not None:
            return
        keep = self._settings.prewarm_per_runtime if profile in self._wanted else 0
        missing = keep - len(self._generic.setdefault(profile, []))
        missing -= self._starting.get(profile, 0)
        for _ in range(max(0, missing)):
            self._starting[profile] = self._starting.get(profile, 0) + 1
            task = asyncio.create_task(
                self._prestart(profile, delay_s), name=f"fngate-prestart-{profile[0]}"
            )
            task.profile = profile  # type: ignore[attr-defined]
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _prestart(self, profile: Profile, delay_s: float = 0.0) -> None:
        try:
            if delay_s:
                await asyncio.sleep(delay_s)
            if not self.budget.try_take(profile[0]):
                return  # at the cap: pre-started workers wait for room (the reaper retries)
            worker = await self._spawn_in_slot(profile)
        except (WorkerFailed, OSError, RuntimeError) as exc:
            if not self._closed:
                logger.warning("could not pre-start a %s worker: %s", profile[0], exc)
            return
        finally:
            self._starting[profile] -= 1
        self._generic.setdefault(profile, []).append(worker)

    async def _fill(self, profile: Profile) -> None:
        self._refill(profile)
        pending = [t for t in self._tasks if getattr(t, "profile", None) == profile]
        await asyncio.gather(*pending, return_exceptions=True)

    # --- idle reaper ------------------------------------------------------------

    async def _reap_forever(self) -> None:
        ttl = self._settings.worker_idle_ttl_s
        period = min(max(ttl / 4, 0.05), 5.0)
        while True:
            await asyncio.sleep(period)
            try:
                self._reap(time.monotonic() - ttl)
                for profile in list(self._wanted):
                    self._refill(profile)
            except Exception:
                logger.exception("worker reaper failed")

    def _reap(self, cutoff: float) -> None:
        for worker in eviction.expired(self._idle, self._busy, cutoff):
            self._unlist(worker)
            worker.kill("idle")
