"""FunctionCleanup takes this replica's outbox rows, does its share of each, and marks
them done only after: a share that fails is done again on the next round (at least once)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from gateway.services.function_cleanup import FunctionCleanup
from gateway.store.replicas import FunctionCleanupRow
from tests.conftest import wait_for


class _Replicas:
    def __init__(self, rows: list[FunctionCleanupRow]) -> None:
        self.rows = rows

    async def pending(self, limit: int = 500) -> list[FunctionCleanupRow]:
        return self.rows[:limit]

    async def done(self, ids: list[int]) -> None:
        self.rows = [row for row in self.rows if row.id not in ids]

    async def beat(self) -> bool:
        return True


class _Pools:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.dropped: list[int] = []

    def function_versions(self) -> dict[int, set[int]]:
        return {}

    async def drop_function(self, function_id: int, *, keep_version: int | None = None) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError("the worker could not be signalled")
        self.dropped.append(function_id)


class _Gates:
    def __init__(self) -> None:
        self.forgotten: list[int] = []

    def function_ids(self) -> set[int]:
        return set()

    def forget(self, function_id: int) -> None:
        self.forgotten.append(function_id)


class _Cache:
    async def drop_function(self, function_id: int) -> None:
        pass


class _Metrics:
    def __init__(self, names: set[str]) -> None:
        self.names = names

    def function_names(self) -> set[str]:
        return set(self.names)

    def forget_function(self, name: str) -> None:
        self.names.discard(name)


class _Functions:
    async def active_versions(self, ids: Any) -> dict[int, int | None]:
        return {}

    async def existing_names(self, names: Any) -> set[str]:
        return set(names)  # the names are in use again: only the outbox says they go


def _row(id_: int, function_id: int, name: str, kind: Any) -> FunctionCleanupRow:
    return FunctionCleanupRow(id=id_, function_id=function_id, function_name=name, kind=kind)


async def test_an_outbox_row_whose_share_failed_is_taken_again_and_done_after() -> None:
    replicas = _Replicas([_row(1, 7, "gone", "deleted"), _row(2, 8, "old-name", "renamed")])
    pools, gates = _Pools(failures=1), _Gates()
    metrics = _Metrics({"gone", "old-name", "kept"})
    cleanup = FunctionCleanup(functions=_Functions(), replicas=replicas,  # type: ignore[arg-type]
                              pools=pools, gates=gates, cache=_Cache(),  # type: ignore[arg-type]
                              metrics=metrics, sweep_s=3600.0, retry_s=0.01)  # type: ignore[arg-type]
    task = asyncio.create_task(cleanup.run())
    try:
        cleanup.poke("function", 7)
        await wait_for(lambda: not replicas.rows, timeout_s=5)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    # After the failed first try (the reconcile of the poked id may drop it again: harmless);
    # a rename drops no worker.
    assert pools.failures == 0 and set(pools.dropped) == {7}
    assert 7 in gates.forgotten and 8 not in gates.forgotten
    assert metrics.names == {"kept"}
