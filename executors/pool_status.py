"""What the worker pools report: runtimes, the sandbox, worker counts, the budget."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any, Literal

from executors.budget import WorkerCapacity
from executors.models import RUNTIMES, Runtime
from executors.pool_state import PoolState

__all__ = ["PoolStatus"]


class PoolStatus(PoolState):
    """The read-only side of :class:`~executors.pool.WorkerPools`."""

    def _runtimes(self) -> list[Runtime]:
        """The runtimes with pre-started generic workers (Go and Rust: when their exec
        stub can run)."""
        return [rt for rt, cmd in self._commands.items() if cmd is not None and cmd.argv]

    def available_runtimes(self) -> dict[str, bool]:
        """Which runtimes can run here, e.g. ``{"python": True, "nodejs": False}``."""
        return {rt: self._commands.get(rt) is not None for rt in RUNTIMES}

    def runtime_status(self) -> dict[str, Literal["ok", "down", "disabled"]]:
        """Per runtime: ``disabled`` when not installed here, ``down`` while its workers
        fail to start, else ``ok``."""
        return {
            rt: "disabled" if self._commands.get(rt) is None
            else "down" if self._spawn_failed[rt] or self.sandbox_error else "ok"
            for rt in RUNTIMES
        }

    def network_policies(self) -> list[str]:
        """The ``network`` values functions can run with here."""
        if self.sandbox.mode == "process":
            return ["egress"]  # unfiltered: the host's own network
        return ["none"] if self.sandbox.egress_unavailable else ["egress", "none"]

    def sandbox_status(self) -> dict[str, Any]:
        """What ``/health`` shows of the isolation: mode, egress, limits, any error."""
        cg = self._cgroups
        return {
            "isolation": self.sandbox.isolation,
            "status": "down" if self.sandbox_error else "ok",
            "error": self.sandbox_error,
            "network_egress": self.sandbox.egress_unavailable or "filtered",
            "per_worker_uid": self._uids is not None,
            "cpu_quota": cg is not None and cg.cpu is not None,
            "memory_limit": "cgroup" if cg is not None else "rss-watchdog",
            "freezer": cg is not None and cg.freezer is not None,
        }

    def warm_worker_count(self) -> dict[str, int]:
        """Specialized, alive workers (idle or busy) per runtime."""
        counts: dict[str, int] = {rt: 0 for rt in RUNTIMES}
        for worker in self._all:
            if worker.spec is not None and worker.alive:
                counts[worker.runtime] += 1
        return counts

    def idle_worker_count(self) -> dict[str, int]:
        """Alive workers waiting for a call per runtime: pre-started generic ones and idle
        warm ones."""
        counts: dict[str, int] = {}
        idle = itertools.chain(itertools.chain.from_iterable(self._generic.values()),
                               itertools.chain.from_iterable(self._idle.values()))
        for worker in idle:
            if worker.alive:
                counts[worker.runtime] = counts.get(worker.runtime, 0) + 1
        return counts

    def worker_capacity(self) -> WorkerCapacity:
        """The cap on live workers, how many are live (or starting), and calls waiting;
        per runtime also how many of its live workers are idle."""
        capacity = self.budget.capacity()
        idle = self.idle_worker_count()
        return dataclasses.replace(capacity, runtimes={
            rt: dataclasses.replace(part, idle=idle.get(rt, 0))
            for rt, part in capacity.runtimes.items()})

    def warm_workers_of(self, function_id: int) -> int:
        """Specialized, alive workers (idle or busy) of one function on this replica."""
        return sum(1 for worker in self._all if worker.spec is not None and worker.alive
                   and worker.spec.function_id == function_id)

    def function_versions(self) -> dict[int, set[int]]:
        """Per function id, the versions this replica has specialized workers of (idle or
        busy)."""
        versions: dict[int, set[int]] = {}
        for worker in self._all:
            if worker.spec is not None:
                versions.setdefault(worker.spec.function_id, set()).add(worker.spec.version)
        return versions
