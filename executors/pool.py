"""Worker pools: warm workers per function version, generic pre-started ones, scale to zero.

``run()`` takes the most recently used idle warm worker of ``spec.key``, else
hands the code to a pre-started generic worker of the runtime (a cold start of
a few ms) and refills the generic pool in the background, else spawns a worker.
An idle reaper ends warm workers idle longer than ``worker_idle_ttl_s``,
keeping ``spec.min_warm`` per key.

Every worker holds a slot of the replica's :class:`~executors.budget.WorkerBudget`
(``FNGATE_MAX_WORKERS``). A call that would spawn past it ends an idle worker of
another function (or a pre-started one) to make room and waits, up to the time
its caller allows, for the slot or for a worker of its own function to come
free; then :class:`~executors.budget.CapacityExhausted`.

What the pools hold is declared in :mod:`executors.pool_state`; what they report
(runtimes, sandbox, counts) is :mod:`executors.pool_status`; spawning, pre-starting and
reaping workers is :mod:`executors.pool_spawning`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import config
from config.capacity import resolve_max_workers
from executors import eviction, limits
from executors.budget import CapacityExhausted, WorkerBudget
from executors.build import Builder
from executors.compile import BINARY_NAME, Compiler
from executors.limits import CgroupRoot, WorkerUser
from executors.models import (
    COMPILED_RUNTIMES,
    RUNTIMES,
    CallContext,
    CodeSpec,
    ErrorInfo,
    ExecutionResult,
    LogLine,
    Network,
    Runtime,
)
from executors.owners import OWNER_LOCK_DIR, OwnerLock
from executors.pool_spawning import WorkerSpawning
from executors.pool_state import DEFAULT_STORAGE_MB, Profile, logger
from executors.pool_status import PoolStatus
from executors.process import LogSink, Worker, WorkerFailed
from executors.runtimes import RuntimeCommand, detect_runtimes
from executors.sandbox import DEPS_IN_SANDBOX, Sandbox, SandboxUnavailable, UidPool
from executors.setup import prepare_sandbox

__all__ = ["WARM_WAIT_S", "CapacityExhausted", "RuntimeUnavailable", "WorkerPools"]

#: How long a warm-up (a session's) waits for a worker, or for a slot to build what it
#: runs, at the worker cap.
WARM_WAIT_S = 60.0
_SPAWN_RETRY_S = 1.0
# A build process's budget slot: counted in the cap (live workers), in no runtime's share,
# and never handed a worker (no worker has this key).
BUILD_SLOT = ""
BUILD_KEY = "\x00build"
REFILL_DELAY_S = 0.1  # a taken generic worker is replaced after this long


class RuntimeUnavailable(Exception):
    """The runtime a function needs is not installed on this machine."""


class WorkerPools(PoolStatus, WorkerSpawning):
    """Every worker process of one gateway replica, per runtime and per function version."""

    def __init__(self, settings: config.Settings) -> None:
        self._settings = settings
        self._commands: dict[Runtime, RuntimeCommand | None] = {}
        self._user = WorkerUser(name=None, uid=None, gid=None)
        self._cgroups: CgroupRoot | None = None
        self._owner: OwnerLock | None = None  # held while this gateway's cgroups may exist
        self.sandbox = Sandbox(mode="process")
        # Why no worker can start here (the sandbox cannot be set up), else None.
        self.sandbox_error: str | None = None
        self._uids: UidPool | None = None
        self._base: Path | None = None
        self._names = itertools.count(1)
        self._prefix = f"{os.getpid()}-{os.urandom(3).hex()}"
        # Idle specialized workers per key, least recently used first.
        self._idle: dict[str, list[Worker]] = {}
        self._busy: set[Worker] = set()
        self._generic: dict[Profile, list[Worker]] = {}
        self._starting: dict[Profile, int] = {}
        # Profiles kept pre-started: the default one, and any a function has used.
        self._wanted: set[Profile] = set()
        # Whether the last attempt to start a worker of the runtime failed.
        self._spawn_failed: dict[Runtime, bool] = {rt: False for rt in RUNTIMES}
        self._all: set[Worker] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reaper: asyncio.Task[None] | None = None
        self._closed = False
        self._builds: Path | None = None
        # Slots for live workers; the limit is resolved in start() (it may read the host).
        self.budget: WorkerBudget[Worker] = WorkerBudget(
            settings.max_workers or 1, unclaimed=self._release,
            shares=settings.worker_shares)
        # Ended to make room for a waiting call, not reaped yet: each frees one slot soon.
        self._evicted: set[Worker] = set()
        # Dependency builds (``pools.builder.build(runtime, deps).path`` → CodeSpec) and
        # Go and Rust compiles (``pools.compiler.compile(...).path`` →
        # CodeSpec.binary_path); each build process holds a budget slot as a worker does.
        self.builder = Builder(settings, slot=self.build_slot)
        self.compiler = Compiler(slot=self.build_slot)

    # --- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        """Detect runtimes, prepare user and cgroups, pre-start generic workers, start reaping."""
        s = self._settings
        self.budget.limit = await asyncio.to_thread(resolve_max_workers, s.max_workers)
        self._cgroups = await asyncio.to_thread(CgroupRoot.detect)
        if self._cgroups is not None:
            try:  # before the sweep: other gateways' sweeps keep this one's cgroups
                self._owner = await asyncio.to_thread(OwnerLock, OWNER_LOCK_DIR, self._prefix)
            except OSError as exc:
                logger.warning("no owner lock for this gateway's cgroups (%s): another"
                               " gateway's sweep goes by its pid alone", exc)
            # Before any uid is handed out: a crashed gateway's workers (frozen ones never
            # die by themselves) still hold theirs.
            swept = await asyncio.to_thread(self._cgroups.sweep_dead)
            if swept:
                logger.warning("removed %d worker cgroups left by a gateway that died", swept)
            await asyncio.to_thread(self._cgroups.hold_freezer, self._prefix)
        try:
            self.sandbox, self._uids = await asyncio.to_thread(prepare_sandbox, s)
        except (SandboxUnavailable, OSError) as exc:
            self.sandbox_error = str(exc)
            # Reported as configured (never as "process"), and nothing runs without it.
            self.sandbox = Sandbox(mode="namespaces" if s.sandbox != "process" else "process")
            logger.error("no worker can start: %s", exc)
        self._user = await asyncio.to_thread(limits.ensure_worker_user, s.worker_user)
        self._base = await asyncio.to_thread(limits.work_base)
        self._commands = await asyncio.to_thread(detect_runtimes, self._user)
        self.builder.configure(
            user=self._user, commands=self._commands, sandbox=self.sandbox, uids=self._uids,
            refuse=self.sandbox_error,
        )
        self._builds = await asyncio.to_thread(lambda: self.builder.base)
        self.compiler.configure(
            user=self._user, commands=self._commands, base=self._builds, sandbox=self.sandbox,
            uids=self._uids, refuse=self.sandbox_error,
        )
        logger.info(
            "worker pools starting",
            extra={
                "runtimes": {rt: c.interpreter if c else None for rt, c in self._commands.items()},
                "cgroups": self._cgroups.version if self._cgroups else None,
                "worker_user": self._user.name,
                "isolation": self.sandbox.isolation,
                "egress": self.sandbox.egress_unavailable or "filtered",
                "max_workers": self.budget.limit,
            },
        )
        if self._cgroups is None or self._cgroups.cpu is None:
            logger.warning(
                "no cgroup CPU controller here (not root, or not mounted): functions' CPU"
                " quotas are not enforced; /health shows it"
            )
        network: Network = "none" if self.sandbox.egress_unavailable else "egress"
        if self.sandbox_error is None:
            for rt in self._runtimes():
                self._wanted.add((rt, network, DEFAULT_STORAGE_MB))
        await asyncio.gather(*(self._fill(p) for p in list(self._wanted)))
        self._reaper = asyncio.create_task(self._reap_forever(), name="fngate-worker-reaper")

    async def close(self) -> None:
        """Stop the reaper and every worker; remove their cgroups and directories."""
        self._closed = True
        await self.builder.close()
        await self.compiler.close()
        if self._reaper is not None:
            self._reaper.cancel()
            await asyncio.gather(self._reaper, return_exceptions=True)
        # Pre-starts finish quickly and kill their worker once they see _closed.
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        workers = list(self._all)
        for worker in workers:
            worker.kill("closed")
        # The cgroup root stays: removing it when it looks empty raced with another gateway
        # on this host creating a worker's cgroup inside it (ENOENT, a failed start).
        await asyncio.gather(*(w.wait_closed() for w in workers), return_exceptions=True)
        if self._cgroups is not None:
            await asyncio.to_thread(self._cgroups.release_freezer)
        if self._owner is not None:
            self._owner.release()

    # --- running -------------------------------------------------------------

    async def run(
        self,
        spec: CodeSpec,
        event: Any,
        ctx: CallContext,
        *,
        timeout_ms: int,
        on_log: Callable[[LogLine], None] | None = None,
        wait_s: float | None = None,
    ) -> ExecutionResult:
        """Run ``spec`` once on a worker of its own; user faults come back as a failed result.

        At the worker cap, waits up to ``wait_s`` (None: as long as it takes) for a
        worker, then raises :class:`CapacityExhausted`.
        """
        s = self._settings
        try:
            worker, cold = await self._acquire(spec, wait_s)
        except (WorkerFailed, OSError, SandboxUnavailable) as exc:
            # Not the user's fault, and never silent: the run fails saying why.
            return ExecutionResult(
                failure="RUNTIME_ERROR",
                error=ErrorInfo(type="WorkerStartFailed", message=str(exc)),
                cold_start=True,
            )
        worker.busy = True
        self._busy.add(worker)
        try:
            result = await worker.run(
                spec=spec if cold else None,
                event=event,
                ctx=ctx,
                timeout_s=timeout_ms / 1000,
                sink=LogSink(s.max_log_bytes, on_log),
                max_log_bytes=s.max_log_bytes,
                max_result_bytes=s.max_result_bytes,
                cold_start=cold,
            )
        finally:
            worker.end_call()
            self._busy.discard(worker)
            worker.busy = False
            self._release(worker)
        return result

    async def warm(self, spec: CodeSpec, *, wait_s: float | None = WARM_WAIT_S) -> bool:
        """Make sure an idle warm worker exists for ``spec.key``; True if one was cold-started.

        At the worker cap, waits up to ``wait_s`` like :meth:`run`."""
        if any(w.alive for w in self._idle.get(spec.key, ())):
            return False
        worker, cold = await self._acquire(spec, wait_s)
        if not cold:  # handed over by a call of the same function as it ended
            self._release(worker)
            return False
        worker.busy = True
        try:
            await worker.specialize(
                spec,
                max_log_bytes=self._settings.max_log_bytes,
                max_result_bytes=self._settings.max_result_bytes,
                timeout_s=WARM_WAIT_S,
            )
        except BaseException:
            worker.kill()
            raise
        finally:
            worker.end_call()  # the module's own code may have left processes too
            worker.busy = False
        self._release(worker)
        return True

    async def drop_function(self, function_id: int, *, keep_version: int | None = None) -> None:
        """End idle workers of ``function_id`` (every version but ``keep_version``); busy
        ones end after their call."""
        def doomed_spec(spec: CodeSpec | None) -> bool:
            return (spec is not None and spec.function_id == function_id
                    and spec.version != keep_version)

        doomed: list[Worker] = []
        for key in [k for k, idle in self._idle.items()
                    if idle and doomed_spec(idle[0].spec)]:
            doomed.extend(self._idle.pop(key))
        for worker in self._busy:
            if doomed_spec(worker.spec):
                worker.retire = True
        for worker in doomed:
            worker.kill("dropped")
        await asyncio.gather(*(w.wait_closed() for w in doomed), return_exceptions=True)

    # --- hand-out --------------------------------------------------------------

    def _take_idle(self, key: str) -> Worker | None:
        idle = self._idle.get(key)
        while idle:
            worker = idle.pop()  # most recently used
            if worker.alive:
                if not idle:
                    del self._idle[key]
                worker.resume()
                return worker
        self._idle.pop(key, None)
        return None

    async def _acquire(self, spec: CodeSpec, wait_s: float | None) -> tuple[Worker, bool]:
        """A worker for ``spec`` and whether it is cold (not yet specialized): an idle
        warm one, a pre-started one, a new one within the budget, else whichever of a
        slot or a warm worker of ``spec.key`` comes first within ``wait_s``."""
        worker = self._take_idle(spec.key)
        if worker is not None:
            return worker, False
        profile = self._profile(spec)
        command = self._binary_command(spec)
        worker = self._take_prestarted(profile)
        if worker is None:
            if not self.budget.try_take(spec.runtime):
                if self._room_wanted(spec.runtime, joining=1):  # no room coming for this one
                    self._evict_idle(spec.key, spec.runtime)
                handed = await self.budget.wait(spec.key, wait_s, spec.runtime)
                if handed is not None:
                    return handed, False
            self._refill(profile)
            worker = await self._spawn_in_slot(profile)
        if command is not None:
            # A pre-started stub becomes the function's binary with one exec. Never the
            # binary spawned itself: its own code (a Go init, a Rust static constructor)
            # would run before it said ready, before the sandbox's processes were counted.
            worker.exec_first(command.argv[0])
        return worker, True

    @contextlib.asynccontextmanager
    async def build_slot(self) -> AsyncIterator[None]:
        """A slot of the worker budget for one build process (a dependency install, a Go
        or Rust compile), so a burst of deploys cannot start more processes than
        ``FNGATE_MAX_WORKERS``: taken at once, else after ending an idle worker to make
        room, else when one comes free (first come first served with calls; builds run in
        the background, so they wait as long as it takes)."""
        if not self.budget.try_take(BUILD_SLOT):
            if self._room_wanted(BUILD_SLOT, joining=1):
                self._evict_idle(BUILD_KEY, BUILD_SLOT)
            await self.budget.wait(BUILD_KEY, None, BUILD_SLOT)
        try:
            yield
        finally:
            self.budget.release(BUILD_SLOT)

    def _binary_command(self, spec: CodeSpec) -> RuntimeCommand | None:
        """Go and Rust: the function's own binary is the worker (None for the others)."""
        if spec.runtime not in COMPILED_RUNTIMES:
            return None
        built = spec.binary_path
        builds = str(self._builds) if self._builds is not None else None
        if built is None or builds is None or not (built + os.sep).startswith(builds + os.sep):
            raise WorkerFailed(f"no compiled build of {spec.function_name} v{spec.version}")
        path = os.path.join(built, BINARY_NAME)
        if self.sandbox.mode == "namespaces":  # the builds base is shown read-only there
            path = DEPS_IN_SANDBOX + path[len(builds):]
        return RuntimeCommand(runtime=spec.runtime, interpreter=path, argv=(path,))

    def _profile(self, spec: CodeSpec) -> Profile:
        if self._closed:
            raise RuntimeError("worker pools are closed")
        runtime = spec.runtime
        if self._commands.get(runtime) is None:
            raise RuntimeUnavailable(f"runtime {runtime!r} is not available on this machine")
        if spec.network == "none" and self.sandbox.mode == "process":
            raise WorkerFailed(
                'network "none" needs the namespace sandbox (FNGATE_SANDBOX=process has none)'
            )
        if spec.network == "egress" and self.sandbox.egress_unavailable is not None:
            reason = self.sandbox.egress_unavailable
            raise WorkerFailed(f"the sandbox could not be set up: {reason}")
        profile: Profile = (runtime, spec.network, spec.ephemeral_storage_mb)
        if spec.ephemeral_storage_mb == DEFAULT_STORAGE_MB and runtime in self._runtimes():
            # At most runtimes × networks profiles stay pre-started; other sizes (any of
            # 16…max a tenant may pick) are started on demand and never pinned.
            self._wanted.add(profile)
        return profile

    def _take_prestarted(self, profile: Profile) -> Worker | None:
        generic = self._generic.setdefault(profile, [])
        while generic:
            worker = generic.pop()
            if worker.alive:
                # Spawning competes for the CPU (and forks this process): let the
                # call that took this worker finish before its replacement starts.
                self._refill(profile, delay_s=REFILL_DELAY_S)
                return worker
        return None

    def _release(self, worker: Worker) -> None:
        if not worker.alive or worker.retire or self._closed or worker.spec is None:
            worker.kill("retired")
            return
        worker.last_used = time.monotonic()
        if self.budget.hand_over(worker.spec.key, worker):
            return
        if self._room_wanted(worker.runtime):
            # Calls wait for a slot: this one's, once its process is gone.
            self._evicted.add(worker)
            worker.kill("evicted")
            return
        worker.pause()
        self._idle.setdefault(worker.spec.key, []).append(worker)

    def _room_wanted(self, runtime: str, joining: int = 0) -> bool:
        """Whether calls wait (``joining``: one more about to) that the slot of a worker of
        ``runtime`` would go to, beyond those the workers already being ended make room
        for (a runtime at its share is made room for by its own workers only)."""
        coming = sum(1 for w in self._evicted
                     if w.runtime == runtime or not self.budget.at_share(w.runtime))
        return self.budget.waiting_for(runtime) + joining > coming

    def _evict_idle(self, keep_key: str, runtime: str) -> None:
        """End one idle worker not of ``keep_key`` (:func:`executors.eviction.to_evict`),
        of ``runtime`` when that runtime is at its share."""
        victim = eviction.to_evict(self._generic.values(), self._idle, self._busy, keep_key,
                                   runtime if self.budget.at_share(runtime) else None)
        if victim is not None:
            self._unlist(victim)  # nobody takes it now; its slot frees once it is reaped
            self._evicted.add(victim)
            victim.kill("evicted")
