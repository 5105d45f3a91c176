"""Rate limit parsing, route classes, client addresses and failing open, without I/O."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from config import SettingsError, load
from gateway.api.middleware.ratelimit import client_ip, route_class
from gateway.services.ratelimit import RateLimiter, parse_rate_limits


def settings(tmp_path: Path, **overrides: Any) -> Any:
    return load({}, toml_path=tmp_path / "none.toml", data_dir=str(tmp_path), **overrides)


def test_a_class_left_out_keeps_its_default() -> None:
    parsed = parse_rate_limits("read=5/second|1/second")
    assert parsed is not None
    assert (parsed["read"].authenticated.amount, parsed["read"].unauthenticated.amount) == (5, 1)
    assert parsed["execute"].authenticated.amount == 100
    assert parsed["write"].authenticated.amount == 100
    assert parsed["write"].authenticated.get_expiry() == 3600
    assert parse_rate_limits(" OFF ") is None


@pytest.mark.parametrize("spec", [
    "read=5/minute", "read=5/minute|x", "bogus=1/minute|1/minute", "read 5/minute|1/minute",
    "read=1/minute|1/minute; read=2/minute|2/minute", "read=1/minute|1/minute|1/minute",
])
def test_bad_syntax_is_a_settings_error_at_construction(tmp_path: Path, spec: str) -> None:
    with pytest.raises(SettingsError, match="rate_limits"):
        RateLimiter(settings(tmp_path, rate_limits=spec))


@pytest.mark.parametrize(("method", "path", "expected"), [
    ("POST", "/api/v1/initialize", "execute"),
    ("POST", "/api/v1/execute/python", "execute"),
    ("GET", "/api/v1/sessions/abc", "execute"),
    ("DELETE", "/api/v1/sessions/abc", "execute"),
    ("POST", "/api/v1/functions/f/invoke", "execute"),
    ("POST", "/api/v1/functions/f/invoke-async", "execute"),
    ("GET", "/fn/hello", "execute"),
    ("POST", "/api/v1/functions", "write"),
    ("PUT", "/api/v1/functions/f", "write"),
    ("DELETE", "/api/v1/functions/f", "write"),
    ("GET", "/api/v1/functions/f", "read"),
    ("HEAD", "/api/v1/jobs/j", "read"),
    ("GET", "/health", None),
    ("GET", "/metrics", None),
    ("GET", "/openapi.json", None),
    ("OPTIONS", "/api/v1/functions", None),
    ("GET", "/api/v1/executions", "read"),
    # A function named like an execute path is read and written like any other.
    ("GET", "/api/v1/functions/invoke", "read"),
    ("PUT", "/api/v1/functions/invoke", "write"),
    ("DELETE", "/api/v1/functions/invoke-async", "write"),
    ("GET", "/api/v1/functions/invoke/versions", "read"),
    ("POST", "/api/v1/functions/invoke/versions", "write"),
    ("PUT", "/api/v1/functions/f/versions/2/active", "write"),
    ("POST", "/api/v1/functions/f/rollback", "write"),
    ("PATCH", "/api/v1/functions/f", "write"),
    ("GET", "/api/v1/jobs/j/logs", "read"),
    ("POST", "/api/v1/initialize/x", "write"),
    ("POST", "/api/v1/functions/a/b/invoke", "write"),
    ("POST", "/fn/orders/invoke", "execute"),
])
def test_route_class_is_the_first_that_matches(method: str, path: str,
                                               expected: str | None) -> None:
    assert route_class(method, path) == expected


def _scope(peer: str, forwarded: str | None = None) -> dict[str, Any]:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return {"client": (peer, 1), "headers": headers}


def test_client_ip_trusts_forwarded_for_only_from_a_trusted_peer() -> None:
    trusted = ("10.0.0.1", "192.168.0.0/16")
    assert client_ip(_scope("8.8.8.8", "1.1.1.1"), trusted) == "8.8.8.8"
    assert client_ip(_scope("10.0.0.1", "1.1.1.1"), trusted) == "1.1.1.1"
    assert client_ip(_scope("10.0.0.1", "6.6.6.6, 1.1.1.1, 192.168.3.4"), trusted) == "1.1.1.1"
    assert client_ip(_scope("10.0.0.1", "192.168.3.4"), trusted) == "10.0.0.1"
    assert client_ip(_scope("10.0.0.1", "1.1.1.1, garbage"), trusted) == "10.0.0.1"
    assert client_ip(_scope("10.0.0.1"), trusted) == "10.0.0.1"
    assert client_ip(_scope("10.0.0.1", "1.1.1.1"), ()) == "10.0.0.1"


class _FlakyStorage(MemoryStorage):
    """In-memory moving window that fails (or hangs) until told to work."""

    STORAGE_SCHEME = ["async+fngate-flaky-test"]  # never shadow async+memory://

    def __init__(self) -> None:
        super().__init__()
        self.mode = "fail"

    async def _trouble(self) -> None:
        if self.mode == "fail":
            raise ConnectionError("down")
        if self.mode == "hang":
            await asyncio.sleep(3600)

    async def acquire_entry(self, *args: Any, **kwargs: Any) -> bool:
        await self._trouble()
        return await super().acquire_entry(*args, **kwargs)

    async def get_moving_window(self, *args: Any, **kwargs: Any) -> tuple[float, int]:
        await self._trouble()
        return await super().get_moving_window(*args, **kwargs)


def _flaky(limiter: RateLimiter) -> _FlakyStorage:
    storage = _FlakyStorage()
    limiter._strategy = MovingWindowRateLimiter(storage)
    return storage


async def test_storage_failure_fails_open_then_recovers(tmp_path: Path) -> None:
    limiter = RateLimiter(settings(tmp_path, rate_limits="read=1/minute|1/minute"),
                          storage_timeout_s=0.05, retry_after_failure_s=0.0)
    flaky = _flaky(limiter)
    for mode in ("fail", "hang"):
        flaky.mode = mode
        for _ in range(3):
            decision = await asyncio.wait_for(
                limiter.hit("read", "k", authenticated=False), timeout=2)
            assert decision is not None and decision.allowed
        assert limiter.status() == "down"
    assert limiter.failures_open == 6
    flaky.mode = "ok"
    first = await limiter.hit("read", "k", authenticated=False)
    assert first is not None and first.allowed and limiter.status() == "ok"
    second = await limiter.hit("read", "k", authenticated=False)
    assert second is not None and not second.allowed and second.retry_after >= 1
    assert limiter.rejected["read"] == 1


async def test_while_down_the_storage_is_skipped_until_the_pause_ends(tmp_path: Path) -> None:
    limiter = RateLimiter(settings(tmp_path), retry_after_failure_s=3600)
    flaky = _flaky(limiter)
    await limiter.hit("read", "k", authenticated=True)
    flaky.mode = "ok"
    await limiter.hit("read", "k", authenticated=True)
    assert limiter.status() == "down" and limiter.failures_open == 2


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_memory_moving_window_counts_hits_and_frees_them_as_they_age() -> None:
    from limits import parse
    from limits.aio.strategies import MovingWindowRateLimiter

    from gateway.services.ratelimit import _MemoryStorage

    clock = _Clock()
    limiter = MovingWindowRateLimiter(_MemoryStorage(clock))
    item = parse("3/second")
    assert [await limiter.hit(item, "k") for _ in range(4)] == [True, True, True, False]
    stats = await limiter.get_window_stats(item, "k")
    assert stats.remaining == 0 and stats.reset_time == clock.now + 1
    clock.now += 0.5
    assert await limiter.hit(item, "other")  # keys are apart
    assert not await limiter.hit(item, "k")
    clock.now += 0.6  # the first three have left the window
    assert await limiter.hit(item, "k")
    stats = await limiter.get_window_stats(item, "k")
    assert stats.remaining == 2 and stats.reset_time == clock.now + 1
    assert not await limiter.hit(item, "k", cost=3)
    assert await limiter.hit(item, "k", cost=2)
    assert not await limiter.hit(item, "k", cost=4)  # more than the limit at all


async def test_memory_moving_window_holds_a_large_limit_exactly() -> None:
    from limits import parse
    from limits.aio.strategies import MovingWindowRateLimiter

    from gateway.services.ratelimit import _MemoryStorage

    clock = _Clock()
    limiter = MovingWindowRateLimiter(_MemoryStorage(clock))
    item = parse("20000/minute")
    for n in range(20_000):
        clock.now += 0.001
        assert await limiter.hit(item, "k"), n
    assert not await limiter.hit(item, "k")
    clock.now += 50.0005  # the first half of the hits (the first 10 s) leave the window
    assert (await limiter.get_window_stats(item, "k")).remaining == 10_000


async def test_memory_storage_sweeps_emptied_windows_at_most_once_a_second() -> None:
    from limits import parse
    from limits.aio.strategies import MovingWindowRateLimiter

    from gateway.services.ratelimit import _MemoryStorage

    clock = _Clock()
    storage = _MemoryStorage(clock)
    limiter = MovingWindowRateLimiter(storage)
    item = parse("5/second")
    for key in range(100):
        await limiter.hit(item, f"k{key}")
    assert storage.windows() == 100
    clock.now += 0.9
    await limiter.hit(item, "late")
    assert storage.windows() == 101  # not swept yet: within a second of the last sweep
    clock.now += 0.2
    await limiter.hit(item, "later")
    assert storage.windows() == 2  # the first hundred aged out and went
    await storage.clear(limiter_key(item, "late"))
    assert storage.windows() == 1


async def test_memory_storage_sweeps_many_keys_a_slice_per_hit() -> None:
    from limits import parse
    from limits.aio.strategies import MovingWindowRateLimiter

    from gateway.services.ratelimit import _MemoryStorage

    clock = _Clock()
    storage = _MemoryStorage(clock)
    storage.SWEEP_SLICE = 100
    limiter = MovingWindowRateLimiter(storage)
    item = parse("5/second")
    for key in range(250):
        await limiter.hit(item, f"k{key}")
    clock.now += 1.1  # all 250 windows have emptied
    counts = []
    for key in "abc":
        await limiter.hit(item, key)
        counts.append(storage.windows())
    assert counts == [151, 52, 3]  # 100, 100, then the last 50 (and the new keys stay)


def limiter_key(item: object, key: str) -> str:
    return item.key_for(key)  # type: ignore[attr-defined, no-any-return]