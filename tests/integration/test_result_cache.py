"""The result cache contract, run against every backend, plus PostgreSQL specifics."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import gateway.services.cache as cache_module
from gateway.services.cache import MemoryResultCache, PostgresResultCache, ResultCache


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "postgres"])
def cache(request: pytest.FixtureRequest) -> ResultCache:
    # Sync on purpose: only the postgres backend asks for the (async) pool fixture.
    if request.param == "memory":
        return MemoryResultCache()
    return PostgresResultCache(request.getfixturevalue("pool"))


# -- the contract, for every backend ------------------------------------------------------


async def test_miss_then_hit(cache: ResultCache) -> None:
    assert await cache.get("k") is None
    await cache.put("k", function_id=1, value={"value": 6, "list": [1, "a"]}, ttl_s=60)
    hit = await cache.get("k")
    assert hit is not None
    assert hit.value == {"value": 6, "list": [1, "a"]}
    assert 0 <= hit.age_s < 5


@pytest.mark.parametrize("value", [None, 0, "", [], {}, False, "text", 1.5])
async def test_falsy_and_null_values_are_hits(cache: ResultCache, value: Any) -> None:
    await cache.put("k", function_id=1, value=value, ttl_s=60)
    hit = await cache.get("k")
    assert hit is not None
    assert hit.value == value and type(hit.value) is type(value)


async def test_put_replaces_an_entry(cache: ResultCache) -> None:
    await cache.put("k", function_id=1, value="old", ttl_s=60)
    await cache.put("k", function_id=1, value="new", ttl_s=60)
    hit = await cache.get("k")
    assert hit is not None and hit.value == "new"


async def test_nonpositive_ttl_stores_nothing(cache: ResultCache) -> None:
    await cache.put("a", function_id=1, value=1, ttl_s=0)
    await cache.put("b", function_id=1, value=1, ttl_s=-1)
    assert await cache.get("a") is None
    assert await cache.get("b") is None


async def test_entry_expires_after_its_ttl(cache: ResultCache) -> None:
    await cache.put("short", function_id=1, value=1, ttl_s=1)
    await cache.put("long", function_id=1, value=2, ttl_s=60)
    assert await cache.get("short") is not None
    await asyncio.sleep(1.1)
    assert await cache.get("short") is None
    assert await cache.get("long") is not None


async def test_entry_older_than_max_age_is_a_miss(cache: ResultCache) -> None:
    await cache.put("k", function_id=1, value=1, ttl_s=60)
    await asyncio.sleep(0.2)
    assert await cache.get("k", max_age_s=0.1) is None
    hit = await cache.get("k", max_age_s=30)
    # uvloop's timers round to the millisecond: the sleep may end a little before 0.2 s
    # of the cache's wall clock have passed (0.1992 s was seen).
    assert hit is not None and hit.age_s >= 0.19


async def test_drop_function_forgets_only_that_function(cache: ResultCache) -> None:
    await cache.put("a", function_id=1, value=1, ttl_s=60)
    await cache.put("b", function_id=2, value=2, ttl_s=60)
    assert await cache.get("a") is not None  # warm any front
    await cache.drop_function(1)
    assert await cache.get("a") is None
    assert await cache.get("b") is not None


async def test_cleanup_deletes_only_expired_entries(cache: ResultCache) -> None:
    await cache.put("short", function_id=1, value=1, ttl_s=1)
    await cache.put("long", function_id=1, value=2, ttl_s=60)
    assert await cache.cleanup() == 0
    await asyncio.sleep(1.1)
    assert await cache.cleanup() == 1
    assert await cache.cleanup() == 0
    assert await cache.get("long") is not None


async def test_values_that_are_not_json_are_refused(cache: ResultCache) -> None:
    with pytest.raises(TypeError):
        await cache.put("k", function_id=1, value=object(), ttl_s=60)
    assert await cache.get("k") is None


# -- PostgreSQL specifics -----------------------------------------------------------------


async def _rows(pool: Any) -> list[tuple[str, int]]:
    rows = await pool.fetch("SELECT key, function_id FROM result_cache ORDER BY key")
    return [(r["key"], r["function_id"]) for r in rows]


async def test_table_is_unlogged(pool: Any) -> None:
    persistence = await pool.fetchval(
        "SELECT relpersistence::text FROM pg_class WHERE relname = 'result_cache'")
    assert persistence == "u"


async def test_null_is_stored_as_json_null_and_read_back_as_a_hit(pool: Any) -> None:
    await PostgresResultCache(pool).put("k", function_id=1, value=None, ttl_s=60)
    assert await pool.fetchval("SELECT jsonb_typeof(value) FROM result_cache") == "null"
    hit = await PostgresResultCache(pool).get("k")  # a fresh front: read from the row
    assert hit is not None and hit.value is None


async def test_a_row_with_sql_null_value_reads_as_a_null_hit(pool: Any) -> None:
    # The column is nullable; a row written as SQL NULL must not read as a miss.
    await pool.execute(
        "INSERT INTO result_cache (key, function_id, value, created_at, expires_at)"
        " VALUES ('k', 1, NULL, now(), now() + interval '1 minute')")
    hit = await PostgresResultCache(pool).get("k")
    assert hit is not None and hit.value is None


async def test_put_upserts_one_row(pool: Any) -> None:
    cache = PostgresResultCache(pool)
    await cache.put("k", function_id=1, value="old", ttl_s=60)
    await cache.put("k", function_id=1, value="new", ttl_s=60)
    assert await _rows(pool) == [("k", 1)]
    hit = await PostgresResultCache(pool).get("k")
    assert hit is not None and hit.value == "new"


async def test_replicas_see_each_others_writes_within_front_ttl(pool: Any) -> None:
    clock_b = FakeClock()
    replica_a = PostgresResultCache(pool)
    replica_b = PostgresResultCache(pool, front_ttl_s=5.0, clock=clock_b)
    await replica_a.put("k", function_id=1, value="v1", ttl_s=60)
    hit = await replica_b.get("k")
    assert hit is not None and hit.value == "v1"

    await replica_a.put("k", function_id=1, value="v2", ttl_s=60)
    clock_b.now += 4.9
    hit = await replica_b.get("k")
    assert hit is not None and hit.value == "v1"  # still within B's front
    clock_b.now += 0.1
    hit = await replica_b.get("k")
    assert hit is not None and hit.value == "v2"  # the front re-read the row


async def test_row_age_comes_from_the_database_clock(pool: Any) -> None:
    await PostgresResultCache(pool).put("k", function_id=1, value=1, ttl_s=600)
    await pool.execute(
        "UPDATE result_cache SET created_at = now() - interval '100 seconds' WHERE key = 'k'")
    reader = PostgresResultCache(pool)
    assert await reader.get("k", max_age_s=50) is None
    hit = await reader.get("k", max_age_s=150)
    assert hit is not None and 100 <= hit.age_s < 105


async def test_front_respects_max_age_by_its_clock(pool: Any) -> None:
    clock = FakeClock()
    cache = PostgresResultCache(pool, front_ttl_s=5.0, clock=clock)
    await cache.put("k", function_id=1, value=1, ttl_s=60)
    await pool.execute("DELETE FROM result_cache")  # only the front holds it now
    clock.now += 3
    hit = await cache.get("k")
    assert hit is not None and hit.age_s == 3  # served by the front
    assert await cache.get("k", max_age_s=2) is None  # too old for the front; no row left


async def test_front_never_outlives_the_row(pool: Any) -> None:
    clock = FakeClock()
    cache = PostgresResultCache(pool, front_ttl_s=5.0, clock=clock)
    await cache.put("k", function_id=1, value=1, ttl_s=1)
    await asyncio.sleep(1.05)
    clock.now += 1.05
    assert await cache.get("k") is None


async def test_front_is_bounded(pool: Any) -> None:
    cache = PostgresResultCache(pool, front_size=2)
    for key in ("a", "b", "c"):
        await cache.put(key, function_id=1, value=key, ttl_s=60)
    await pool.execute("DELETE FROM result_cache")
    assert await cache.get("a") is None  # evicted from the front, gone from the table
    assert await cache.get("c") is not None


async def test_cleanup_removes_expired_rows_in_batches(
    pool: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_module, "_CLEANUP_BATCH", 2)
    cache = PostgresResultCache(pool)
    for i in range(5):
        await cache.put(f"old{i}", function_id=1, value=i, ttl_s=60)
    await cache.put("fresh", function_id=1, value=0, ttl_s=60)
    await pool.execute(
        "UPDATE result_cache SET expires_at = now() - interval '1 second'"
        " WHERE key LIKE 'old%'")
    assert await cache.cleanup() == 5
    assert await _rows(pool) == [("fresh", 1)]


async def test_drop_function_deletes_rows_and_front_entries(pool: Any) -> None:
    cache = PostgresResultCache(pool)
    other = PostgresResultCache(pool)
    await cache.put("a1", function_id=1, value=1, ttl_s=60)
    await cache.put("a2", function_id=1, value=2, ttl_s=60)
    await cache.put("b", function_id=2, value=3, ttl_s=60)
    await cache.drop_function(1)
    assert await _rows(pool) == [("b", 2)]
    assert await cache.get("a1") is None  # its own front forgot too
    assert await other.get("a2") is None
    assert await other.get("b") is not None


async def test_front_skips_large_values(pool: Any) -> None:
    cache = PostgresResultCache(pool, front_max_value_bytes=1024)
    await cache.put("small", function_id=1, value="s", ttl_s=60)
    await cache.put("large", function_id=1, value="x" * 2000, ttl_s=60)
    hit = await cache.get("large")
    assert hit is not None and hit.value == "x" * 2000  # read from the table
    await pool.execute("DELETE FROM result_cache")
    assert await cache.get("small") is not None  # the front held it
    assert await cache.get("large") is None  # the front never held it


async def test_a_large_value_replaces_the_fronts_older_value(pool: Any) -> None:
    cache = PostgresResultCache(pool, front_max_value_bytes=1024)
    await cache.put("k", function_id=1, value="old", ttl_s=60)
    await cache.put("k", function_id=1, value="x" * 2000, ttl_s=60)
    hit = await cache.get("k")
    assert hit is not None and hit.value == "x" * 2000


async def test_front_is_bounded_by_bytes(pool: Any) -> None:
    cache = PostgresResultCache(pool, front_max_bytes=2500, front_max_value_bytes=1024)
    for key in ("a", "b", "c"):
        await cache.put(key, function_id=1, value=key * 1000, ttl_s=60)
    await pool.execute("DELETE FROM result_cache")
    assert await cache.get("a") is None  # evicted to stay under 2500 bytes
    assert await cache.get("b") is not None and await cache.get("c") is not None


async def test_front_drops_expired_entries_when_it_stores(pool: Any) -> None:
    clock = FakeClock()
    cache = PostgresResultCache(pool, front_ttl_s=5.0, clock=clock)
    for i in range(3):
        await cache.put(f"old{i}", function_id=1, value=i, ttl_s=60)
    clock.now += 6
    await cache.put("new", function_id=1, value=0, ttl_s=60)
    assert len(cache._front) == 1
