"""Dependency builds of function versions, run in the background.

A version with dependencies is stored as ``building``; its build runs here and
records ``success`` (activating the version unless a newer one is active) or
``failed`` with the build log. Builds left ``building`` by a replica that died
are picked up again at start-up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from executors import WorkerPools
from gateway import audit
from gateway.metrics import GatewayMetrics
from gateway.store.functions import FunctionStore

__all__ = ["BuildManager"]

logger = logging.getLogger("fngate.builds")


class BuildManager:
    """Starts builds and records their outcome."""

    def __init__(self, functions: FunctionStore, pools: WorkerPools, *,
                 metrics: GatewayMetrics | None = None) -> None:
        self._functions = functions
        self._pools = pools
        self._metrics = metrics or GatewayMetrics()
        self._tasks: set[asyncio.Task[None]] = set()
        # Told (function_id, version, ok, activated) when a build's outcome is recorded.
        self.on_finished: list[Callable[[int, int, bool, bool], None]] = []

    def schedule(self, function_id: int, version: int, runtime: str,
                 dependencies: list[str], *, actor: str | None = None) -> None:
        """Build in the background; the outcome lands in the version row (and, as
        ``activated`` or ``build_failed``, in the audit events with ``actor``)."""
        task = asyncio.create_task(
            self._build(function_id, version, runtime, dependencies, actor),
            name=f"build-{function_id}-v{version}",
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def resume(self) -> None:
        """Schedule every version still marked ``building``."""
        for record in await self._functions.pending_builds():
            self.schedule(record.function_id, record.version, record.runtime,
                          list(record.dependencies))

    async def wait_idle(self) -> None:
        """Wait for the builds running now (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _with_inherited(self, function_id: int, runtime: str,
                              dependencies: list[str]) -> list[str]:
        """The version's dependencies with its project's and the system's (the union a
        run installs, so the run finds this build in the cache)."""
        function = await self._functions.get_by_id(function_id)
        if function is None:
            return dependencies
        return function.run_dependencies(runtime, dependencies)

    async def _build(self, function_id: int, version: int, runtime: str,
                     dependencies: list[str], actor: str | None = None) -> None:
        began = time.perf_counter()
        try:
            dependencies = await self._with_inherited(function_id, runtime, dependencies)
            result = await self._pools.builder.build(runtime, dependencies)  # type: ignore[arg-type]
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.exception("build crashed", extra={"function_id": function_id})
            ok, log = False, f"the build could not run: {exc!r}"
        else:
            ok, log = result.ok, result.log
        self._metrics.build_finished(runtime, time.perf_counter() - began)
        activated = await self._functions.finish_build(
            function_id, version, ok=ok, log=log,
            also=audit.build_outcome(function_id, version, actor, log=log))
        if ok and activated:
            await self._pools.drop_function(function_id)
        for listener in self.on_finished:
            try:
                listener(function_id, version, ok, activated)
            except Exception:  # a listener's fault must not fail the build
                logger.exception("build listener failed", extra={"function_id": function_id})
        logger.info("build finished", extra={"function_id": function_id, "version": version,
                                             "ok": ok, "activated": activated})
