"""The result cache: ``X-Cache-Control`` directives, cache keys and two backends.

Results are stored as canonical JSON text and decoded on every hit, so a
caller that mutates a result it was given never changes what the cache holds,
and both backends behave alike (JSON ``null`` is a hit, distinct from a miss).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from gateway.core.cache_directive import CacheDirective
from gateway.core.errors import InvalidRequest

__all__ = [
    "CacheDirective",
    "CachedResult",
    "MemoryResultCache",
    "PostgresResultCache",
    "ResultCache",
    "cache_key",
    "parse_cache_control",
    "run_cleanup",
]

logger = logging.getLogger("fngate.cache")

_MAX_AGE = re.compile(r"max-age=([0-9]+)", re.ASCII)
# Larger ages than this mean "any age": TTLs are capped by cache_ttl anyway.
_MAX_AGE_CAP = 10**12


def _invalid(message: str) -> InvalidRequest:
    return InvalidRequest(message, details={"header": "X-Cache-Control"})


def parse_cache_control(header: str | None) -> CacheDirective | None:
    """Parse ``X-Cache-Control``; None when absent, ``InvalidRequest`` when malformed.

    Accepts exactly one of ``no-cache``, ``no-store``, ``max-age=N`` (N a
    non-negative integer), case-insensitive, with surrounding whitespace.
    ``max-age=0`` is returned as ``no-cache``.
    """
    if header is None:
        return None
    text = header.strip(" \t").lower()
    if text == "no-cache":
        return CacheDirective("no-cache")
    if text == "no-store":
        return CacheDirective("no-store")
    match = _MAX_AGE.fullmatch(text)
    if match is None:
        raise _invalid(
            "X-Cache-Control must be exactly one of no-cache, no-store or max-age=N"
            f" (N a non-negative integer), got {header[:100]!r}"
        )
    digits = match.group(1).lstrip("0") or "0"
    age = _MAX_AGE_CAP if len(digits) > 12 else int(digits)
    if age == 0:
        return CacheDirective("no-cache")
    return CacheDirective("max-age", age)


def _canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def cache_key(
    *,
    function_id: int,
    version: int,
    environment: Mapping[str, str],
    params: Any,
    owner: str | None,
) -> str:
    """The cache key (sha256 hex) of one invocation.

    ``owner`` identifies the caller (issuer and subject); None means the
    function's ``cache_scope`` is ``shared``. Params are compared as canonical
    JSON, so key order does not matter. Raises ``TypeError`` for params that
    are not JSON.
    """
    env_digest = hashlib.sha256(_canonical(dict(environment))).hexdigest()
    material = [function_id, version, env_digest, params, owner]
    return hashlib.sha256(_canonical(material)).hexdigest()


@dataclass(frozen=True, slots=True)
class CachedResult:
    """A cache hit: the stored value and how old it is, in seconds."""

    value: Any
    age_s: float


class ResultCache(Protocol):
    """Where successful results are kept, keyed by ``cache_key``."""

    async def get(self, key: str, *, max_age_s: float | None = None) -> CachedResult | None:
        """The unexpired entry at most ``max_age_s`` old, or None on a miss."""
        ...

    async def put(self, key: str, *, function_id: int, value: Any, ttl_s: int) -> None:
        """Store (or replace) an entry for ``ttl_s`` seconds; ``ttl_s <= 0`` stores nothing.

        Raises ``TypeError`` when ``value`` is not JSON.
        """
        ...

    async def drop_function(self, function_id: int) -> None:
        """Forget every entry of one function."""
        ...

    async def cleanup(self) -> int:
        """Delete expired entries; return how many were deleted."""
        ...


@dataclass(slots=True)
class _Entry:
    function_id: int
    data: bytes  # canonical JSON of the value
    created_at: float  # by the owner's clock
    expires_at: float  # by the owner's clock


class _Entries:
    """A map of entries by key, bounded by count and by the bytes of its values.

    Evicts the oldest inserted first; a set also drops the expired entries it
    finds at the old end, so short-lived entries do not sit out their turn.
    """

    def __init__(self, clock: Callable[[], float], max_size: int,
                 max_bytes: int | None = None) -> None:
        self._clock = clock
        self._max_size = max(1, max_size)
        self._max_bytes = max_bytes
        self._items: OrderedDict[str, _Entry] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def set(self, key: str, entry: _Entry) -> None:
        self.discard(key)
        now = self._clock()
        while self._items and now >= next(iter(self._items.values())).expires_at:
            self._pop_oldest()
        self._items[key] = entry
        self._bytes += len(entry.data)
        while len(self._items) > self._max_size or (
            self._max_bytes is not None and self._bytes > self._max_bytes
        ):
            self._pop_oldest()

    def discard(self, key: str) -> None:
        """Forget ``key`` if held."""
        entry = self._items.pop(key, None)
        if entry is not None:
            self._bytes -= len(entry.data)

    def _pop_oldest(self) -> None:
        _, entry = self._items.popitem(last=False)
        self._bytes -= len(entry.data)

    def get(self, key: str, max_age_s: float | None) -> CachedResult | None:
        entry = self._items.get(key)
        if entry is None:
            return None
        now = self._clock()
        if now >= entry.expires_at:
            self.discard(key)
            return None
        age = max(0.0, now - entry.created_at)
        if max_age_s is not None and age > max_age_s:
            return None
        return CachedResult(orjson.loads(entry.data), age)

    def drop_function(self, function_id: int) -> None:
        for key in [k for k, e in self._items.items() if e.function_id == function_id]:
            self.discard(key)

    def drop_expired(self) -> int:
        now = self._clock()
        expired = [k for k, e in self._items.items() if now >= e.expires_at]
        for key in expired:
            self.discard(key)
        return len(expired)


class MemoryResultCache:
    """The result cache in this process only: for tests and as a fallback."""

    def __init__(
        self, clock: Callable[[], float] = time.time, *, max_entries: int = 100_000
    ) -> None:
        self._clock = clock
        self._entries = _Entries(clock, max_entries)

    async def get(self, key: str, *, max_age_s: float | None = None) -> CachedResult | None:
        """The unexpired entry at most ``max_age_s`` old, or None on a miss."""
        return self._entries.get(key, max_age_s)

    async def put(self, key: str, *, function_id: int, value: Any, ttl_s: int) -> None:
        """Store (or replace) an entry for ``ttl_s`` seconds; ``ttl_s <= 0`` stores nothing."""
        data = orjson.dumps(value)
        if ttl_s <= 0:
            return
        now = self._clock()
        self._entries.set(key, _Entry(function_id, data, now, now + ttl_s))

    async def drop_function(self, function_id: int) -> None:
        """Forget every entry of one function."""
        self._entries.drop_function(function_id)

    async def cleanup(self) -> int:
        """Delete expired entries; return how many were deleted."""
        return self._entries.drop_expired()


_GET_SQL = (
    "SELECT function_id, value::text AS data,"
    " EXTRACT(epoch FROM now() - created_at)::float8 AS age_s,"
    " EXTRACT(epoch FROM expires_at - now())::float8 AS remaining_s"
    " FROM result_cache WHERE key = $1 AND expires_at > now()"
)
_PUT_SQL = (
    "INSERT INTO result_cache (key, function_id, value, created_at, expires_at)"
    " VALUES ($1, $2, $3::text::jsonb, now(), now() + make_interval(secs => $4))"
    " ON CONFLICT (key) DO UPDATE SET function_id = EXCLUDED.function_id,"
    " value = EXCLUDED.value, created_at = EXCLUDED.created_at,"
    " expires_at = EXCLUDED.expires_at"
)
_DROP_SQL = "DELETE FROM result_cache WHERE function_id = $1"
# In batches, so a large backlog never holds one long delete.
_CLEANUP_SQL = (
    "DELETE FROM result_cache WHERE key IN (SELECT key FROM result_cache"
    " WHERE expires_at <= now() LIMIT $1)"
)
_CLEANUP_BATCH = 5000


def _deleted(status: str) -> int:
    # asyncpg returns the command tag, e.g. "DELETE 3".
    return int(status.rsplit(" ", 1)[-1])


class PostgresResultCache:
    """The result cache in an UNLOGGED PostgreSQL table, shared by every replica.

    An in-process front keeps hot entries for at most ``front_ttl_s`` seconds
    (never past the row's own expiry), so another replica's newer write is
    seen within that time. It holds at most ``front_size`` entries and
    ``front_max_bytes`` bytes, and no value over ``front_max_value_bytes``
    (those are read from the table each time). Row ages come from the
    database's clock, front ages from ``clock``. Store errors propagate
    (``asyncpg``/``OSError``).
    """

    def __init__(
        self,
        pool: Any,
        *,
        front_ttl_s: float = 5.0,
        front_size: int = 10_000,
        front_max_bytes: int = 32 * 1024 * 1024,
        front_max_value_bytes: int = 64 * 1024,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._pool = pool
        self._front_ttl_s = front_ttl_s
        self._front_max_value_bytes = front_max_value_bytes
        self._clock = clock
        self._front = _Entries(clock, front_size, front_max_bytes)

    async def get(self, key: str, *, max_age_s: float | None = None) -> CachedResult | None:
        """The unexpired entry at most ``max_age_s`` old, or None on a miss."""
        hit = self._front.get(key, max_age_s)
        if hit is not None:
            return hit
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(_GET_SQL, key)
        if row is None:
            return None
        age = max(0.0, float(row["age_s"]))
        data = b"null" if row["data"] is None else row["data"].encode()
        self._remember(key, row["function_id"], data, age, float(row["remaining_s"]))
        if max_age_s is not None and age > max_age_s:
            return None
        return CachedResult(orjson.loads(data), age)

    async def put(self, key: str, *, function_id: int, value: Any, ttl_s: int) -> None:
        """Store (or replace) an entry for ``ttl_s`` seconds; ``ttl_s <= 0`` stores nothing."""
        data = orjson.dumps(value)
        if ttl_s <= 0:
            return
        async with self._pool.acquire() as conn:
            await conn.execute(_PUT_SQL, key, function_id, data.decode(), float(ttl_s))
        self._remember(key, function_id, data, 0.0, float(ttl_s))

    async def drop_function(self, function_id: int) -> None:
        """Forget every entry of one function (other replicas' fronts within ``front_ttl_s``)."""
        self._front.drop_function(function_id)
        async with self._pool.acquire() as conn:
            await conn.execute(_DROP_SQL, function_id)

    async def cleanup(self) -> int:
        """Delete expired rows (and expired front entries); return how many rows."""
        self._front.drop_expired()
        total = 0
        async with self._pool.acquire() as conn:
            while True:
                deleted = _deleted(await conn.execute(_CLEANUP_SQL, _CLEANUP_BATCH))
                total += deleted
                if deleted < _CLEANUP_BATCH:
                    return total

    def _remember(
        self, key: str, function_id: int, data: bytes, age_s: float, remaining_s: float
    ) -> None:
        lifetime = min(self._front_ttl_s, remaining_s)
        if lifetime <= 0 or len(data) > self._front_max_value_bytes:
            self._front.discard(key)  # an older value of the key must not outlive this one
            return
        now = self._clock()
        self._front.set(key, _Entry(function_id, data, now - age_s, now + lifetime))


async def run_cleanup(cache: ResultCache, interval_s: float = 60.0) -> None:
    """Delete expired entries every ``interval_s`` seconds, forever; errors are logged."""
    while True:
        try:
            deleted = await cache.cleanup()
        except Exception:
            logger.warning("result cache cleanup failed", exc_info=True)
        else:
            if deleted:
                logger.info("result cache cleaned", extra={"deleted": deleted})
        await asyncio.sleep(interval_s)
