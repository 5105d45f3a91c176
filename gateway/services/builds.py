"""Dependency builds of function versions, run in the background.

A version with dependencies, and every Go or Rust version (compiled at deploy,
executors/compile.py), is stored as ``building``; its build runs here and
records ``success`` (activating the version unless a newer one is active) or
``failed`` with the build log and its duration. A successful build records the set the
version serves with: the system's, its project's and its own dependencies, layered
(gateway/core/projects.py). Runs install exactly that set.

When a project's or the system's dependencies change, :meth:`BuildManager.rebuild_changed`
rebuilds the serving versions whose layered set changed, in the background: they keep
serving with their recorded set meanwhile; a success swaps the set in one statement (and
drops the function's warm workers), a failure leaves them serving and records a
``build_failed`` event. Versions that need the same set share one build.

Builds left ``building`` by a replica that died, first builds and rebuilds alike, are
picked up again at start-up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from executors import BuildResult, WorkerPools
from gateway.core.projects import COMPILED, layered_dependencies
from gateway.services import audit
from gateway.services.audit import Actor
from gateway.services.metrics import GatewayMetrics
from gateway.store.builds import ServingVersion, VersionBuildStore
from gateway.store.functions import FunctionStore

__all__ = ["BuildManager"]

logger = logging.getLogger("fngate.builds")


class BuildManager:
    """Starts builds and records their outcome."""

    def __init__(self, functions: FunctionStore, pools: WorkerPools, *,
                 versions: VersionBuildStore | None = None,
                 metrics: GatewayMetrics | None = None) -> None:
        """``versions``: the serving sets and rebuilds; without it (unit tests with fakes)
        nothing is rebuilt when layers change."""
        self._functions = functions
        self._versions = versions
        self._pools = pools
        self._metrics = metrics or GatewayMetrics()
        self._tasks: set[asyncio.Task[None]] = set()
        # One pass over the serving versions at a time, so a pass never marks a set read
        # before a newer change that an earlier pass already marked.
        self._rebuild_lock = asyncio.Lock()
        # (function, version, set) of the rebuilds running here: not marked again (which
        # would restart their clock and run a second one) until they end.
        self._rebuilding: set[tuple[int, int, tuple[str, ...]]] = set()
        # Told (function_id, version, ok, activated) when a build's outcome is recorded.
        self.on_finished: list[Callable[[int, int, bool, bool], None]] = []

    def schedule(self, function_id: int, version: int, runtime: str,
                 dependencies: list[str], *, actor: Actor = None) -> None:
        """Build in the background; the outcome lands in the version row (and, as
        ``activated`` or ``build_failed``, in the audit events with ``actor``)."""
        self._spawn(self._build(function_id, version, runtime, dependencies, actor),
                    f"build-{function_id}-v{version}")

    async def rebuild_changed(self, *, project: str | None = None,
                              function_id: int | None = None, retry_failed: bool = True) -> int:
        """Rebuild, in the background, the serving versions (of ``project``'s functions, of
        one function, or of all) whose layered dependency set is no longer the one they
        serve with. A set whose rebuild failed is tried again only with ``retry_failed``.
        Returns how many versions were marked for a rebuild."""
        if self._versions is None:
            return 0
        async with self._rebuild_lock:
            serving = await self._versions.serving(project=project, function_id=function_id)
            groups = await self._mark(serving, retry_failed=retry_failed)
        for (runtime, dependencies), members in groups.items():
            self._rebuilding.update((m.function_id, m.version, dependencies) for m in members)
            self._spawn(self._rebuild(runtime, list(dependencies), members),
                        f"rebuild-{runtime}-{len(members)}")
        return sum(len(members) for members in groups.values())

    async def resume(self) -> None:
        """Schedule every version still marked ``building``, and every rebuild (a set
        changed while no replica was up, or one left building by a replica that died)."""
        for record in await self._functions.pending_builds():
            self.schedule(record.function_id, record.version, record.runtime,
                          list(record.dependencies))
        await self.rebuild_changed(retry_failed=False)

    async def wait_idle(self) -> None:
        """Wait for the builds running now (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- internals ------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _mark(self, serving: Iterable[ServingVersion], *, retry_failed: bool
                    ) -> dict[tuple[str, tuple[str, ...]], list[ServingVersion]]:
        """Mark the versions whose set changed as rebuilding, grouped by the set to build."""
        assert self._versions is not None
        groups: dict[tuple[str, tuple[str, ...]], list[ServingVersion]] = {}
        for version in serving:
            wanted = sorted(layered_dependencies(version.runtime, version.inherited,
                                                 version.dependencies))
            if version.resolved is None and not wanted:
                continue  # nothing to install, nothing to record
            if version.resolved is not None and sorted(version.resolved) == wanted:
                if version.rebuild_status is not None:  # the layers went back
                    await self._versions.drop_rebuild(version.function_id, version.version)
                continue
            if (not retry_failed and version.rebuild_status == "failed"
                    and version.rebuild == wanted):
                continue
            if (version.rebuild_status == "building" and version.rebuild == wanted
                    and (version.function_id, version.version, tuple(wanted))
                    in self._rebuilding):
                continue  # already under way here
            if await self._versions.begin_rebuild(version.function_id, version.version,
                                                  wanted):
                groups.setdefault((version.runtime, tuple(wanted)), []).append(version)
        return groups

    async def _run_build(self, runtime: str, dependencies: list[str],
                         source: tuple[str, str] | None = None) -> tuple[bool, str, int]:
        """(ok, log, duration in ms) of one build; a crash is a failed build. ``source``:
        the (code, handler) of a Go or Rust version, compiled instead."""
        began = time.perf_counter()
        result: BuildResult | None = None
        try:
            if source is not None:
                result = await self._pools.compiler.compile(
                    runtime, *source)  # type: ignore[arg-type]
            else:
                result = await self._pools.builder.build(
                    runtime, dependencies)  # type: ignore[arg-type]
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.exception("build crashed", extra={"runtime": runtime})
            ok, log = False, f"the build could not run: {exc!r}"
        else:
            ok, log = result.ok, result.log
        elapsed = time.perf_counter() - began
        self._metrics.build_finished(runtime, elapsed)
        return ok, log, int(round(elapsed * 1000))

    async def _with_inherited(self, function_id: int, runtime: str,
                              dependencies: list[str]) -> list[str]:
        """The version's dependencies with its project's and the system's (the set it will
        serve with)."""
        function = await self._functions.get_by_id(function_id)
        if function is None:
            return dependencies
        return function.run_dependencies(runtime, dependencies)

    async def _build(self, function_id: int, version: int, runtime: str,
                     dependencies: list[str], actor: Actor = None) -> None:
        source: tuple[str, str] | None = None
        try:
            dependencies = await self._with_inherited(function_id, runtime, dependencies)
            if runtime in COMPILED:
                record = await self._functions.get_version(function_id, version)
                if record is None:
                    return  # deleted meanwhile: nothing to record
                source = (record.code, record.handler)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.exception("build crashed", extra={"function_id": function_id})
            ok, log, duration_ms = False, f"the build could not run: {exc!r}", 0
        else:
            ok, log, duration_ms = await self._run_build(runtime, dependencies, source)
        activated = await self._functions.finish_build(
            function_id, version, ok=ok, log=log, resolved=sorted(dependencies),
            duration_ms=duration_ms,
            also=audit.build_outcome(function_id, version, actor, log=log))
        if ok and activated:
            await self._pools.drop_function(function_id)
        self._tell(function_id, version, ok, activated)
        logger.info("build finished", extra={"function_id": function_id, "version": version,
                                             "ok": ok, "activated": activated})
        if ok:
            await self.follow_layers(function_id)

    async def _rebuild(self, runtime: str, dependencies: list[str],
                       members: list[ServingVersion]) -> None:
        assert self._versions is not None
        try:
            await self._finish_rebuild(runtime, dependencies, members)
        finally:
            self._rebuilding.difference_update(
                (m.function_id, m.version, tuple(dependencies)) for m in members)
        # Whatever the outcome: the layers may have moved on meanwhile (on another replica,
        # whose mark replaced this one). A failed set is not tried again by this, so it
        # cannot loop.
        for member in members:
            await self.follow_layers(member.function_id)

    async def _finish_rebuild(self, runtime: str, dependencies: list[str],
                              members: list[ServingVersion]) -> None:
        assert self._versions is not None
        ok, log, duration_ms = await self._run_build(runtime, dependencies)
        for member in members:
            recorded = await self._versions.finish_rebuild(
                member.function_id, member.version, dependencies, ok=ok, log=log,
                duration_ms=duration_ms,
                also=audit.rebuild_outcome(member.function_id, member.function_name,
                                           member.version, dependencies, ok=ok, log=log))
            if not recorded:  # a newer change replaced this rebuild, or the version went
                continue
            self._functions.forget()
            if ok:
                await self._pools.drop_function(member.function_id)
            self._tell(member.function_id, member.version, ok, ok)
        logger.info("rebuild finished", extra={"runtime": runtime, "ok": ok,
                                               "functions": len(members)})

    async def follow_layers(self, function_id: int) -> None:
        """After a build, a new version that needed none of its own, an activation or a
        move to another project: if the layers make another set than the one the serving
        version records (or it records none yet), build that set in the background."""
        try:
            await self.rebuild_changed(function_id=function_id, retry_failed=False)
        except Exception:  # the next layer change or start-up catches up
            logger.exception("checking the layers after a build failed",
                             extra={"function_id": function_id})

    def _tell(self, function_id: int, version: int, ok: bool, activated: bool) -> None:
        for listener in self.on_finished:
            try:
                listener(function_id, version, ok, activated)
            except Exception:  # a listener's fault must not fail the build
                logger.exception("build listener failed", extra={"function_id": function_id})
