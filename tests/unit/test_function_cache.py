"""The function cache of FunctionStore (gateway/store/functions.py): what a change drops,
what the notification of this replica's own change drops, and how long an entry is
trusted. The database is faked: only what the store reads is counted."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from gateway.core.models import FunctionRecord
from gateway.core.secretbox import SecretBox
from gateway.store.functions import FunctionStore

NOW = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
TTL_S = 2.0
OURS, THEIRS = 4242, 4343  # backend process ids: this replica's connection, another's


def _function(function_id: int, name: str) -> FunctionRecord:
    return FunctionRecord(
        id=function_id, name=name, project="default", runtime="python",
        execution_type="sync", description="", environment={}, timeout_ms=1000,
        memory_mb=128, max_concurrency=1, min_warm=0, cache_ttl=0, cache_scope="caller",
        max_retries=0, rate_limit=None, schema=None, examples=[], labels={},
        active_version=1, created_at=NOW, updated_at=NOW)


class _Conn:
    """A connection whose transaction commits (or fails) and may run ``on_commit``."""

    def __init__(self, on_commit: Callable[[], None] | None, fail: bool) -> None:
        self._on_commit = on_commit
        self._fail = fail

    async def execute(self, *_args: Any) -> str:
        return "INSERT 0 1"  # the delete's clean-up rows, and its NOTIFY

    async def fetchval(self, *_args: Any) -> str:
        return "f"  # DELETE … RETURNING name: it existed

    def get_server_pid(self) -> int:
        return OURS

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        yield
        if self._fail:
            raise ConnectionError("the commit failed")
        if self._on_commit is not None:
            self._on_commit()  # a notification handled before the writer resumes


class _Pool:
    def __init__(self) -> None:
        self.on_commit: Callable[[], None] | None = None
        self.fail = False

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[_Conn]:
        yield _Conn(self.on_commit, self.fail)


class _Store:
    """A FunctionStore over the fake pool, counting the reads that reach the database."""

    def __init__(self) -> None:
        self.pool = _Pool()
        self.store = FunctionStore(self.pool, box=SecretBox("k" * 32), cache_ttl_s=TTL_S)
        self.functions = {"f": _function(1, "f"), "g": _function(2, "g")}
        self.reads: list[str] = []

        async def read(ref: str) -> FunctionRecord | None:
            self.reads.append(ref)
            return self.functions.get(ref)

        self.store._read = read  # type: ignore[method-assign]

    async def get(self, ref: str) -> FunctionRecord | None:
        return await self.store.get(ref)

    def age(self, seconds: float) -> None:
        """Make every cached entry ``seconds`` older."""
        cache = self.store._cache
        for ref, (record, read_at) in list(cache.items()):
            cache[ref] = (record, read_at - seconds)


@pytest.fixture
def fake() -> _Store:
    return _Store()


async def test_a_change_made_here_keeps_what_was_read_after_it_when_its_notification_comes(
        fake: _Store) -> None:
    await fake.get("f")
    assert await fake.store.delete(1)
    assert fake.store._cache == {}  # forgotten at once, without waiting for the notification
    await fake.get("f")  # read again after the commit: current
    fake.store.forget("function", 1, OURS)  # the change's own notification
    await fake.get("f")
    assert fake.reads == ["f", "f"]


async def test_a_notification_before_the_commit_is_seen_still_drops_what_came_after(
        fake: _Store) -> None:
    await fake.get("f")
    fake.pool.on_commit = lambda: fake.store.forget("function", 1, OURS)  # ours, come early
    assert await fake.store.delete(1)
    await fake.get("f")  # read after our change: current until someone else's
    fake.store.forget("function", 1, THEIRS)  # another replica's change
    await fake.get("f")
    assert fake.reads == ["f", "f", "f"]


async def test_a_change_that_did_not_commit_expects_no_notification(fake: _Store) -> None:
    fake.pool.fail = True
    with pytest.raises(ConnectionError):
        await fake.store.delete(1)
    await fake.get("f")
    fake.store.forget("function", 1, OURS)  # so this one is another change of ours
    await fake.get("f")
    assert fake.reads == ["f", "f"]


async def test_a_change_of_one_function_keeps_the_others(fake: _Store) -> None:
    await fake.get("f")
    await fake.get("g")
    fake.store.forget("function", 2, THEIRS)
    await fake.get("f")
    await fake.get("g")
    assert fake.reads == ["f", "g", "g"]


@pytest.mark.parametrize("change", [("project", 3, THEIRS), ("system", 0, OURS),
                                    ("*", None, None), ()])
async def test_a_change_of_anything_else_drops_every_function(
        fake: _Store, change: tuple[Any, ...]) -> None:
    await fake.get("f")
    await fake.get("g")
    fake.store.forget(*change)
    await fake.get("f")
    await fake.get("g")
    assert fake.reads == ["f", "g", "f", "g"]


async def test_a_ref_by_language_title_goes_with_any_function_change(fake: _Store) -> None:
    fake.functions["python-f"] = fake.functions["f"]
    await fake.get("python-f")
    fake.store.forget("function", 2, THEIRS)  # a rename of g may take the title over
    await fake.get("python-f")
    assert fake.reads == ["python-f", "python-f"]


async def test_an_entry_is_trusted_past_the_ttl_while_the_listener_hears_changes(
        fake: _Store) -> None:
    await fake.get("f")
    fake.age(TTL_S + 1)
    fake.store.listener_alive(time.monotonic())
    await fake.get("f")
    assert fake.reads == ["f"]


async def test_without_the_listener_an_entry_expires_after_the_ttl(fake: _Store) -> None:
    fake.store.listener_alive(time.monotonic() - TTL_S - 2)  # last heard of long ago
    await fake.get("f")
    fake.age(TTL_S + 1)
    await fake.get("f")
    assert fake.reads == ["f", "f"]


async def test_an_entry_is_read_again_after_the_keep_time_however_alive_the_listener(
        fake: _Store) -> None:
    await fake.get("f")
    fake.age(3600)
    fake.store.listener_alive(time.monotonic())
    await fake.get("f")
    assert fake.reads == ["f", "f"]


async def test_a_read_overtaken_by_a_change_is_not_cached(fake: _Store) -> None:
    read = fake.store._read

    async def read_then_change(ref: str) -> FunctionRecord | None:
        record = await read(ref)
        fake.store.forget("function", 1, THEIRS)  # committed while the row travelled
        return record

    fake.store._read = read_then_change  # type: ignore[method-assign]
    await fake.get("f")
    fake.store._read = read  # type: ignore[method-assign]
    await fake.get("f")
    assert fake.reads == ["f", "f"]



async def test_another_connections_change_is_not_taken_for_ours_while_ours_is_expected(
        fake: _Store) -> None:
    assert await fake.store.delete(1)  # ours committed, its notification not back yet
    await fake.get("f")
    fake.store.forget("function", 1, THEIRS)  # another replica's, committed after ours
    await fake.get("f")
    assert fake.reads == ["f", "f"]
    fake.store.forget("function", 1, OURS)  # ours at last: what came after it stays
    await fake.get("f")
    assert fake.reads == ["f", "f"]


async def test_a_reconnected_listener_forgets_the_changes_it_expected(fake: _Store) -> None:
    assert await fake.store.delete(1)
    fake.store.forget("*", None, None)  # reconnected: our notification may be lost
    await fake.get("f")
    fake.store.forget("function", 1, OURS)  # a later change on the same connection
    await fake.get("f")
    assert fake.reads == ["f", "f"]
