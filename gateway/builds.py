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

from executors import WorkerPools
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

    def schedule(self, function_id: int, version: int, runtime: str,
                 dependencies: list[str]) -> None:
        """Build in the background; the outcome lands in the version row."""
        task = asyncio.create_task(
            self._build(function_id, version, runtime, dependencies),
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

    async def _build(self, function_id: int, version: int, runtime: str,
                     dependencies: list[str]) -> None:
        began = time.perf_counter()
        try:
            result = await self._pools.builder.build(runtime, dependencies)  # type: ignore[arg-type]
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.exception("build crashed", extra={"function_id": function_id})
            ok, log = False, f"the build could not run: {exc!r}"
        else:
            ok, log = result.ok, result.log
        self._metrics.build_finished(runtime, time.perf_counter() - began)
        activated = await self._functions.finish_build(function_id, version, ok=ok, log=log)
        if ok and activated:
            await self._pools.drop_function(function_id)
        logger.info("build finished", extra={"function_id": function_id, "version": version,
                                             "ok": ok, "activated": activated})
