"""The suite runs on the event loop production runs (``uvloop.run`` in gateway/server.py)."""

from __future__ import annotations

import asyncio

import pytest
import uvloop


async def test_async_tests_run_on_uvloop() -> None:
    assert isinstance(asyncio.get_running_loop(), uvloop.Loop)


@pytest.fixture
async def fixture_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


async def test_async_fixtures_share_the_tests_uvloop(
    fixture_loop: asyncio.AbstractEventLoop,
) -> None:
    assert isinstance(fixture_loop, uvloop.Loop)
    assert fixture_loop is asyncio.get_running_loop()


async def test_uvloop_refuses_the_kwargs_the_default_loop_takes() -> None:
    # The trap the suite exists to catch: were this passing, the loop would not be uvloop's.
    with pytest.raises(ValueError, match="unexpected kwargs"):
        await asyncio.create_subprocess_exec("/bin/true", user=None)


def test_sync_tests_run_their_async_fixtures_on_uvloop(
    fixture_loop: asyncio.AbstractEventLoop,
) -> None:
    assert isinstance(fixture_loop, uvloop.Loop)


@pytest.fixture(scope="session")
async def session_value() -> object:
    return object()


_SEEN: list[object] = []


async def test_a_session_async_fixture_seen_by_an_async_test(session_value: object) -> None:
    _SEEN.append(session_value)


def test_is_the_same_object_for_a_sync_test_after_it(session_value: object) -> None:
    # A session fixture torn down between the two kinds of tests (and made again) was how
    # the security suite lost the migrated template database.
    assert _SEEN == [session_value]
