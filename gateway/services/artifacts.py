"""What a run needs built before a worker can take it: the dependency set of its version
(Python, Node.js) or the version's compiled binary (Go, Rust).

Both are normally built when the version was deployed; a replica that has no copy (another
replica built it, or this one's cache was wiped) builds it again here, from the recorded
inputs, so it built before. A build that cannot run or fails here is a failed run
(``BuildFailed``), never a fault of the gateway. A caller that waits for its run bounds
how long the build may wait for a slot of the worker budget (``slot_wait_s``): past it,
:class:`~executors.budget.BuildQueued` (the build stays queued).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from executors import BuildResult, CapacityExhausted, WorkerPools
from executors.models import COMPILED_RUNTIMES, ErrorInfo

__all__ = ["Built", "built_for_run"]

logger = logging.getLogger("fngate.dispatcher")


@dataclass(frozen=True, slots=True, kw_only=True)
class Built:
    """The published paths a run's CodeSpec points at, or why there are none."""

    dependencies_path: str | None = None
    binary_path: str | None = None
    error: ErrorInfo | None = None


async def built_for_run(pools: WorkerPools, runtime: str, code: str, handler: str,
                        installs: list[str], *, slot_wait_s: float | None = None) -> Built:
    """The dependencies (``installs``) or binary of one version, building them if needed;
    :class:`~executors.budget.BuildQueued` when a build got no worker slot within
    ``slot_wait_s`` (None: it waits as long as it takes)."""
    if runtime in COMPILED_RUNTIMES:
        compiler = pools.compiler
        path, error = await _cached_or_built(
            compiler.cached(runtime, code, handler),
            lambda: compiler.compile(runtime, code, handler, slot_wait_s=slot_wait_s),
            "compiling the function")
        return Built(binary_path=path, error=error)
    if not installs:
        return Built()
    builder = pools.builder
    path, error = await _cached_or_built(
        builder.cached(runtime, installs),  # type: ignore[arg-type]
        lambda: builder.build(runtime, installs,  # type: ignore[arg-type]
                              slot_wait_s=slot_wait_s),
        "installing the dependencies")
    return Built(dependencies_path=path, error=error)


async def _cached_or_built(cached: str | None, build: Callable[[], Awaitable[BuildResult]],
                           what: str) -> tuple[str | None, ErrorInfo | None]:
    if cached is not None:
        return cached, None
    try:
        built = await build()
    except (asyncio.CancelledError, CapacityExhausted):
        raise
    except Exception as exc:
        logger.exception("%s for a run failed", what)
        return None, ErrorInfo(type="BuildFailed",
                               message=f"{what} could not run here ({type(exc).__name__})")
    if built.ok:
        return built.path, None
    return None, ErrorInfo(type="BuildFailed", message=built.message or f"{what} failed",
                           line=built.line, column=built.column, stack_trace=built.log[-4000:])
