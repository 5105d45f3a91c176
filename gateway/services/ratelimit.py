"""Per-client and per-function rate limits on the ``limits`` moving window.

Storage is in-process memory by default and Redis when ``redis_url`` is set, so
replicas share counters. Redis trouble never fails a request: the limiter fails
open, reports ``down`` and retries the storage after a short pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from config import Settings, SettingsError
from gateway.core.errors import RateLimited

__all__ = [
    "ROUTE_CLASSES",
    "Decision",
    "RateLimiter",
    "check_function_rate",
    "parse_rate_limits",
    "rate_headers",
]

logger = logging.getLogger("fngate.ratelimit")

ROUTE_CLASSES = ("execute", "read", "write")
_DEFAULTS = {
    "execute": ("100/minute", "10/minute"),
    "read": ("60/minute", "10/minute"),
    "write": ("100/hour", "10/minute"),
}
# Bounds one storage round trip; a hung Redis must not hold requests.
STORAGE_TIMEOUT_S = 0.5
# After a storage failure, requests skip the storage this long before it is tried again.
RETRY_AFTER_FAILURE_S = 2.0
DEFAULT_KEY_PREFIX = "fngate"

T = TypeVar("T")

Status = Literal["ok", "down", "disabled"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """The outcome of one hit: whether it passes and what the headers say."""

    allowed: bool
    limit: int
    remaining: int
    reset: int  # epoch seconds
    retry_after: int  # seconds; >= 1 when not allowed, else 0


@dataclass(frozen=True, slots=True, kw_only=True)
class _ClassLimits:
    authenticated: RateLimitItem
    unauthenticated: RateLimitItem


class _Function(Protocol):
    @property
    def id(self) -> int: ...

    @property
    def rate_limit(self) -> str | None: ...


def _parse_rate(text: str, where: str) -> RateLimitItem:
    try:
        return parse(text.strip())
    except ValueError as exc:
        raise SettingsError(
            f"rate_limits: {where}: {text.strip()!r} is not a rate such as '100/minute'"
        ) from exc


def parse_rate_limits(spec: str) -> dict[str, _ClassLimits] | None:
    """Parse ``"execute=100/minute|10/minute; read=…"``; ``None`` means ``off``.

    A class left out keeps its default; anything malformed raises
    :class:`config.SettingsError` naming the part at fault.
    """
    text = spec.strip()
    if text.lower() == "off":
        return None
    given: dict[str, tuple[str, str]] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        name, sep, rates = part.partition("=")
        name = name.strip().lower()
        if not sep or name not in ROUTE_CLASSES:
            raise SettingsError(
                f"rate_limits: {part!r} must be <class>=<authenticated>|<unauthenticated> "
                f"with class one of {', '.join(ROUTE_CLASSES)}, or the whole value 'off'"
            )
        if name in given:
            raise SettingsError(f"rate_limits: class {name!r} is given twice")
        authed, bar, anon = rates.partition("|")
        if not bar or "|" in anon:
            raise SettingsError(
                f"rate_limits: {part!r} needs two rates separated by '|' "
                "(authenticated|unauthenticated)"
            )
        given[name] = (authed, anon)
    result = {}
    for name in ROUTE_CLASSES:
        authed, anon = given.get(name, _DEFAULTS[name])
        result[name] = _ClassLimits(
            authenticated=_parse_rate(authed, f"{name} (authenticated)"),
            unauthenticated=_parse_rate(anon, f"{name} (unauthenticated)"),
        )
    return result


def rate_headers(decision: Decision) -> dict[str, str]:
    """The ``X-RateLimit-*`` headers (and ``Retry-After`` when refused) of a decision."""
    headers = {
        "X-RateLimit-Limit": str(decision.limit),
        "X-RateLimit-Remaining": str(decision.remaining),
        "X-RateLimit-Reset": str(decision.reset),
    }
    if not decision.allowed:
        headers["Retry-After"] = str(decision.retry_after)
    return headers


def _drop_older(times: deque[float], cutoff: float) -> None:
    """Drop the hit times (oldest first) that have left the window."""
    while times and times[0] < cutoff:
        times.popleft()


class _MemoryStorage(MemoryStorage):
    """``limits``' async memory storage with a moving window that costs O(1) per hit.

    Upstream keeps a key's entries newest-first in a list and inserts each hit at its
    front (a copy of the whole window per hit: at 10,000/minute, 10,000 entries), and
    starts a sweep of every key through ``asyncio.to_thread`` on every hit. Here a key
    holds its hit times oldest-first in a deque: a hit drops what has left the window
    and appends; keys whose window emptied are swept at most once a second. Nothing
    awaits inside, so no lock is needed.
    """

    SWEEP_EVERY_S = 1.0
    SWEEP_SLICE = 512  # keys looked at per hit while a pass is under way

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self._clock = clock
        self._windows: dict[str, tuple[float, deque[float]]] = {}
        self._last_sweep = clock()
        self._unswept: deque[str] = deque()  # keys the current sweep has still to look at

    def _window(self, key: str, expiry: float, now: float) -> deque[float]:
        held = self._windows.get(key)
        if held is None:
            times: deque[float] = deque()
            self._windows[key] = (expiry, times)
            return times
        times = held[1]
        _drop_older(times, now - expiry)
        return times

    def _sweep(self, now: float) -> None:
        """Drop emptied windows: a pass at most once a second, a bounded slice per hit
        (with many callers, one pass at once would stall the request that runs it)."""
        if not self._unswept:
            if now - self._last_sweep < self.SWEEP_EVERY_S:
                return
            self._last_sweep = now
            self._unswept = deque(self._windows)
        for _ in range(min(self.SWEEP_SLICE, len(self._unswept))):
            key = self._unswept.popleft()
            held = self._windows.get(key)
            if held is None:
                continue
            expiry, times = held
            _drop_older(times, now - expiry)
            if not times:
                del self._windows[key]

    async def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = self._clock()
        self._sweep(now)
        times = self._window(key, expiry, now)
        if len(times) + amount > limit:
            return False
        times.extend(itertools.repeat(now, amount))
        return True

    async def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        now = self._clock()
        if key not in self._windows:
            return now, 0
        times = self._window(key, expiry, now)
        return (times[0], len(times)) if times else (now, 0)

    async def clear(self, key: str) -> None:
        await super().clear(key)
        self._windows.pop(key, None)

    async def reset(self) -> int | None:
        count = await super().reset()
        windows = len(self._windows)
        self._windows.clear()
        return max(count or 0, windows)

    def windows(self) -> int:
        """Keys with hits in their window (for tests and diagnostics)."""
        return len(self._windows)


class RateLimiter:
    """Moving-window limits per route class and caller, and per function over all callers.

    Never raises to its caller once constructed: a storage failure or timeout
    lets the request through (``failures_open`` counts those) and marks the
    limiter ``down`` until the storage answers again. ``rejected`` counts the
    requests refused per route class (``function`` for per-function limits).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        storage_timeout_s: float = STORAGE_TIMEOUT_S,
        retry_after_failure_s: float = RETRY_AFTER_FAILURE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Raises :class:`config.SettingsError` if ``settings.rate_limits`` is malformed."""
        self._classes = parse_rate_limits(settings.rate_limits)
        self._uses_redis = bool(settings.redis_url)
        if settings.redis_url:
            uri = settings.redis_url
            if not uri.startswith("async+"):
                uri = "async+" + uri
            self._storage: Storage = RedisStorage(uri, key_prefix=key_prefix)
        else:
            self._storage = _MemoryStorage(clock)
        self._strategy = MovingWindowRateLimiter(self._storage)
        self._prefix = key_prefix
        self._timeout_s = storage_timeout_s
        self._retry_after_failure_s = retry_after_failure_s
        self._clock = clock
        self._function_items: dict[str, RateLimitItem | None] = {}
        self._down = False
        self._skip_until = 0.0
        self.failures_open = 0
        self.rejected: dict[str, int] = {name: 0 for name in (*ROUTE_CLASSES, "function")}

    @property
    def enabled(self) -> bool:
        """False when the per-client limits are ``off``."""
        return self._classes is not None

    async def start(self) -> None:
        """Check the storage once; an unreachable Redis only marks the limiter down."""
        if self._uses_redis:
            # A plain GET rather than ``check()``, which swallows every exception,
            # cancellation included.
            storage = self._storage
            await self._call(lambda: storage.get(f"{self._prefix}:probe"))

    async def close(self) -> None:
        """Drop the storage's connections."""
        bridge = getattr(self._storage, "bridge", None)
        client = getattr(bridge, "storage", None)
        pool = getattr(client, "connection_pool", None)
        if pool is not None:
            with contextlib.suppress(Exception):
                pool.disconnect()

    def status(self) -> Status:
        """``disabled`` when limits are off, ``down`` while the storage fails, else ``ok``."""
        if self._classes is None:
            return "disabled"
        return "down" if self._down else "ok"

    async def hit(self, route_class: str, key: str, *, authenticated: bool) -> Decision | None:
        """Count one request of ``key`` in ``route_class``; ``None`` when limits are off."""
        if self._classes is None:
            return None
        limits = self._classes[route_class]
        item = limits.authenticated if authenticated else limits.unauthenticated
        who = "auth" if authenticated else "anon"
        decision = await self._hit(item, route_class, who, key)
        if not decision.allowed:
            self.rejected[route_class] += 1
        return decision

    async def hit_function(self, function_id: int, rate: str) -> Decision:
        """Count one invocation of a function against its own ``rate`` over all callers.

        An unparseable ``rate`` (the API validates it on input) is ignored.
        """
        item = self._function_item(rate)
        if item is None:
            return Decision(allowed=True, limit=0, remaining=0, reset=0, retry_after=0)
        decision = await self._hit(item, "function", str(function_id))
        if not decision.allowed:
            self.rejected["function"] += 1
        return decision

    def _function_item(self, rate: str) -> RateLimitItem | None:
        if rate not in self._function_items:
            try:
                self._function_items[rate] = parse(rate)
            except ValueError:
                logger.warning("ignoring a function rate limit that does not parse",
                               extra={"rate_limit": rate})
                self._function_items[rate] = None
        return self._function_items[rate]

    async def _hit(self, item: RateLimitItem, *identifiers: str) -> Decision:
        strategy = self._strategy
        allowed = await self._call(lambda: strategy.hit(item, *identifiers))
        stats = None
        if allowed is not None:
            stats = await self._call(lambda: strategy.get_window_stats(item, *identifiers))
        if allowed is None or stats is None:
            # Fail open: the storage did not answer.
            now = self._clock()
            return Decision(allowed=True, limit=item.amount, remaining=item.amount,
                            reset=math.ceil(now + item.get_expiry()), retry_after=0)
        reset = math.ceil(stats.reset_time)
        remaining = max(0, stats.remaining)
        if allowed:
            return Decision(allowed=True, limit=item.amount, remaining=remaining, reset=reset,
                            retry_after=0)
        retry_after = max(1, math.ceil(stats.reset_time - self._clock()))
        return Decision(allowed=False, limit=item.amount, remaining=0, reset=reset,
                        retry_after=retry_after)

    async def _call(self, fn: Callable[[], Awaitable[T]]) -> T | None:
        """Run one storage call under a timeout; ``None`` when it failed or was skipped."""
        if self._down and time.monotonic() < self._skip_until:
            self.failures_open += 1
            return None
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation.
            if not isinstance(self._strategy.storage, _MemoryStorage):
                async with asyncio.timeout(self._timeout_s):
                    result = await fn()
            else:  # in memory: nothing to wait for, and a timeout costs a timer per call
                result = await fn()
        except Exception as exc:  # any storage error means: let the request through
            self.failures_open += 1
            self._skip_until = time.monotonic() + self._retry_after_failure_s
            if not self._down:
                logger.warning("rate limit storage unreachable; failing open",
                               extra={"error": repr(exc)})
            self._down = True
            return None
        if self._down:
            logger.info("rate limit storage reachable again")
            self._down = False
        return result


async def check_function_rate(limiter: RateLimiter, function: _Function) -> None:
    """Raise 429 ``RATE_LIMITED`` when ``function.rate_limit`` is set and used up."""
    if not function.rate_limit:
        return
    decision = await limiter.hit_function(function.id, function.rate_limit)
    if decision.allowed:
        return
    raise RateLimited(
        f"function rate limit of {function.rate_limit} exceeded; retry in "
        f"{decision.retry_after} s",
        details={"limit": decision.limit, "scope": "function",
                 "retry_after": decision.retry_after},
        headers=rate_headers(decision),
    )
