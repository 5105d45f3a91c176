"""Unit tests of the result cache: directives, keys and the in-memory backend."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

import pytest

from gateway.core.errors import InvalidRequest
from gateway.core.models import FunctionRecord
from gateway.services.cache import (
    CacheDirective,
    MemoryResultCache,
    cache_key,
    parse_cache_control,
    run_cleanup,
)
from gateway.services.caching import plan_cache


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_absent_header_is_none() -> None:
    assert parse_cache_control(None) is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("no-cache", CacheDirective("no-cache")),
        ("NO-CACHE", CacheDirective("no-cache")),
        ("  no-cache\t", CacheDirective("no-cache")),
        ("no-store", CacheDirective("no-store")),
        ("No-Store ", CacheDirective("no-store")),
        ("max-age=30", CacheDirective("max-age", 30)),
        ("MAX-AGE=30", CacheDirective("max-age", 30)),
        (" max-age=007 ", CacheDirective("max-age", 7)),
        ("max-age=0", CacheDirective("no-cache")),
        ("max-age=000", CacheDirective("no-cache")),
        ("max-age=" + "9" * 40, CacheDirective("max-age", 10**12)),
    ],
)
def test_valid_headers_parse(header: str, expected: CacheDirective) -> None:
    assert parse_cache_control(header) == expected


@pytest.mark.parametrize(
    "header",
    [
        "",
        "   ",
        "no-caches",
        "public",
        "max-age",
        "max-age=",
        "max-age=-1",
        "max-age=abc",
        "max-age=1.5",
        "max-age=+5",
        "max-age = 5",
        "max-age=٣",  # a non-ASCII digit
        "no-cache, no-store",
        "no-cache,max-age=5",
        "no-cache no-store",
        "max-age=5;",
    ],
)
def test_invalid_headers_raise_invalid_request(header: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_cache_control(header)
    assert caught.value.code == "INVALID_REQUEST"
    assert caught.value.status == 400
    assert caught.value.details == {"header": "X-Cache-Control"}
    assert "X-Cache-Control" in caught.value.message


def test_directive_reads_writes_and_ttl() -> None:
    default = CacheDirective("default")
    assert (default.reads, default.writes, default.max_age_s, default.ttl_s(3600)) == (
        True, True, None, 3600)
    no_cache = CacheDirective("no-cache")
    assert (no_cache.reads, no_cache.writes, no_cache.max_age_s, no_cache.ttl_s(3600)) == (
        False, True, None, 3600)
    no_store = CacheDirective("no-store")
    assert (no_store.reads, no_store.writes, no_store.max_age_s) == (False, False, None)
    short = CacheDirective("max-age", 30)
    assert (short.reads, short.writes, short.max_age_s) == (True, True, 30)
    assert short.ttl_s(3600) == 30
    assert CacheDirective("max-age", 7200).ttl_s(3600) == 3600
    assert CacheDirective("max-age", 30).ttl_s(0) == 0


def _key(**overrides: Any) -> str:
    values: dict[str, Any] = {
        "function_id": 1,
        "version": 1,
        "environment": {"A": "1", "B": "2"},
        "params": {"x": 1, "y": {"b": 2, "a": [1, 2]}},
        "owner": "https://issuer alice",
    }
    values.update(overrides)
    return cache_key(**values)


def test_cache_key_is_stable_hex_sha256() -> None:
    key = _key()
    assert key == _key()
    assert len(key) == 64 and int(key, 16) >= 0


def test_cache_key_ignores_key_order_of_params_and_environment() -> None:
    assert _key() == _key(params={"y": {"a": [1, 2], "b": 2}, "x": 1})
    assert _key() == _key(environment={"B": "2", "A": "1"})


@pytest.mark.parametrize(
    "change",
    [
        {"function_id": 2},
        {"version": 2},
        {"environment": {"A": "1", "B": "3"}},
        {"environment": {"A": "1"}},
        {"params": {"x": 2, "y": {"b": 2, "a": [1, 2]}}},
        {"params": {"x": 1, "y": {"b": 2, "a": [2, 1]}}},
        {"owner": "https://issuer bob"},
        {"owner": None},
    ],
)
def test_cache_key_separates_what_differs(change: dict[str, Any]) -> None:
    assert _key(**change) != _key()


def test_cache_key_does_not_mix_fields_up() -> None:
    # The same strings moved between fields must not produce the same key.
    assert _key(environment={}, params="x", owner="y") != _key(environment={}, params="xy",
                                                               owner="")
    assert _key(params=None, owner=None) != _key(params=None, owner="null")


async def test_memory_cache_miss_then_hit_with_age() -> None:
    clock = FakeClock()
    cache = MemoryResultCache(clock)
    assert await cache.get("k") is None
    await cache.put("k", function_id=1, value={"v": 1}, ttl_s=60)
    clock.now += 12.5
    hit = await cache.get("k")
    assert hit is not None and hit.value == {"v": 1} and hit.age_s == 12.5


async def test_memory_cache_entry_expires_after_ttl() -> None:
    clock = FakeClock()
    cache = MemoryResultCache(clock)
    await cache.put("k", function_id=1, value=1, ttl_s=10)
    clock.now += 9.9
    assert await cache.get("k") is not None
    clock.now += 0.1
    assert await cache.get("k") is None


async def test_memory_cache_respects_max_age() -> None:
    clock = FakeClock()
    cache = MemoryResultCache(clock)
    await cache.put("k", function_id=1, value=1, ttl_s=100)
    clock.now += 30
    assert await cache.get("k", max_age_s=30) is not None
    assert await cache.get("k", max_age_s=29) is None
    assert await cache.get("k") is not None  # a max-age miss does not drop the entry


async def test_memory_cache_null_value_is_a_hit() -> None:
    cache = MemoryResultCache(FakeClock())
    await cache.put("k", function_id=1, value=None, ttl_s=10)
    hit = await cache.get("k")
    assert hit is not None and hit.value is None


async def test_memory_cache_nonpositive_ttl_stores_nothing() -> None:
    cache = MemoryResultCache(FakeClock())
    await cache.put("a", function_id=1, value=1, ttl_s=0)
    await cache.put("b", function_id=1, value=1, ttl_s=-5)
    assert await cache.get("a") is None and await cache.get("b") is None


async def test_memory_cache_returns_copies_not_the_stored_object() -> None:
    cache = MemoryResultCache(FakeClock())
    value = {"items": [1]}
    await cache.put("k", function_id=1, value=value, ttl_s=10)
    value["items"].append(2)
    first = await cache.get("k")
    assert first is not None and first.value == {"items": [1]}
    first.value["items"].append(3)
    again = await cache.get("k")
    assert again is not None and again.value == {"items": [1]}


async def test_memory_cache_rejects_values_that_are_not_json() -> None:
    cache = MemoryResultCache(FakeClock())
    with pytest.raises(TypeError):
        await cache.put("k", function_id=1, value={1, 2}, ttl_s=10)


async def test_memory_cache_drop_function_and_cleanup() -> None:
    clock = FakeClock()
    cache = MemoryResultCache(clock)
    await cache.put("a", function_id=1, value=1, ttl_s=10)
    await cache.put("b", function_id=2, value=2, ttl_s=10)
    await cache.put("c", function_id=2, value=3, ttl_s=100)
    await cache.drop_function(1)
    assert await cache.get("a") is None and await cache.get("b") is not None
    clock.now += 50
    assert await cache.cleanup() == 1
    assert await cache.cleanup() == 0
    assert await cache.get("c") is not None


async def test_memory_cache_is_bounded_and_evicts_the_oldest() -> None:
    cache = MemoryResultCache(FakeClock(), max_entries=2)
    for key in ("a", "b", "c"):
        await cache.put(key, function_id=1, value=key, ttl_s=10)
    assert await cache.get("a") is None
    assert await cache.get("b") is not None and await cache.get("c") is not None


class FlakyCache(MemoryResultCache):
    """Fails its first cleanup, then counts calls."""

    def __init__(self) -> None:
        super().__init__(FakeClock())
        self.calls = 0
        self.enough = asyncio.Event()

    async def cleanup(self) -> int:
        self.calls += 1
        if self.calls >= 3:
            self.enough.set()
        if self.calls == 1:
            raise OSError("store down")
        return 2


async def test_run_cleanup_survives_errors_and_keeps_going(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = FlakyCache()
    caplog.set_level(logging.INFO, logger="fngate.cache")
    task = asyncio.create_task(run_cleanup(cache, interval_s=0.01), name="cache-cleanup")
    try:
        await asyncio.wait_for(cache.enough.wait(), timeout=5)
        assert not task.done()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    messages = [r.getMessage() for r in caplog.records]
    assert "result cache cleanup failed" in messages
    assert "result cache cleaned" in messages


def _function(**overrides: Any) -> FunctionRecord:
    now = dt.datetime.now(dt.UTC)
    values: dict[str, Any] = {
        "id": 1, "name": "f", "project": "default", "runtime": "python",
        "execution_type": "sync", "description": "", "environment": {}, "timeout_ms": 1000,
        "memory_mb": 128, "max_concurrency": 1, "min_warm": 0, "cache_ttl": 3600,
        "cache_scope": "caller", "max_retries": 0, "rate_limit": None, "schema": None,
        "examples": [], "labels": {}, "active_version": 1, "created_at": now, "updated_at": now,
    }
    values.update(overrides)
    return FunctionRecord(**values)


async def test_a_lowered_cache_ttl_applies_to_entries_stored_before() -> None:
    clock = FakeClock()
    cache = MemoryResultCache(clock)
    default = CacheDirective("default")
    before = plan_cache(_function(cache_ttl=3600), params={"a": 1}, owner="o", directive=default)
    await before.store(cache, 1, "v")
    clock.now += 20
    assert await before.lookup(cache) is not None
    lowered = _function(cache_ttl=10)
    plan = plan_cache(lowered, params={"a": 1}, owner="o", directive=default)
    assert plan.max_age_s == 10 and await plan.lookup(cache) is None
    longer = plan_cache(lowered, params={"a": 1}, owner="o",
                        directive=CacheDirective("max-age", 60))
    assert longer.max_age_s == 10 and await longer.lookup(cache) is None
    shorter = plan_cache(_function(cache_ttl=3600), params={"a": 1}, owner="o",
                         directive=CacheDirective("max-age", 5))
    assert shorter.max_age_s == 5 and await shorter.lookup(cache) is None


class BrokenCache(MemoryResultCache):
    async def put(self, key: str, *, function_id: int, value: Any, ttl_s: int) -> None:
        raise OSError("store down")


async def test_a_failed_cache_write_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    plan = plan_cache(_function(), params={}, owner="o", directive=CacheDirective("default"))
    with caplog.at_level(logging.WARNING, logger="fngate.cache"):
        await plan.store(BrokenCache(), 1, "v")
    assert [r.getMessage() for r in caplog.records] == ["result cache write failed"]
