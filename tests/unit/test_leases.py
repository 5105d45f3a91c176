"""LeaseKeeper: which runs a heartbeat that finds leases gone stops, over an in-memory store."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from gateway.services.leases import LeaseKeeper, LeaseLost


class MemoryLeases:
    """The jobs table as far as the heartbeat sees it: the tokens still on running jobs."""

    def __init__(self, live: set[str]) -> None:
        self.live = live
        self.during: Callable[[], None] = lambda: None  # what happens while the beat waits

    async def heartbeat(self, tokens: Sequence[str], lease_s: float) -> set[str]:
        await asyncio.sleep(0)
        self.during()
        return {t for t in tokens if t in self.live}


def keeper(store: MemoryLeases) -> LeaseKeeper:
    return LeaseKeeper(store, lease_s=5, heartbeat_s=1)  # type: ignore[arg-type]


async def test_a_lost_lease_stops_its_run_once_and_is_no_longer_renewed() -> None:
    store = MemoryLeases({"kept"})
    leases = keeper(store)
    lost: list[str] = []
    leases.hold("kept", on_lost=lambda: lost.append("kept"))
    leases.hold("stolen", on_lost=lambda: lost.append("stolen"))
    await leases.beat()
    assert lost == ["stolen"] and leases.held == 1
    await leases.beat()
    assert lost == ["stolen"]


async def test_a_settling_or_ended_run_is_not_stopped() -> None:
    store = MemoryLeases(set())
    leases = keeper(store)
    lost: list[str] = []
    for token in ("settling", "ended", "plain"):
        leases.hold(token, on_lost=lambda token=token: lost.append(token))
    leases.settle("settling")  # its own write cleared the token

    def run_ends() -> None:
        leases.drop("ended")  # finished while the beat was on its way

    store.during = run_ends
    await leases.beat()
    assert lost == ["plain"]
    assert leases.is_settling("settling") and leases.held == 1


async def test_a_lease_without_a_callback_is_forgotten_and_a_failed_beat_stops_nothing(
) -> None:
    store = MemoryLeases(set())
    leases = keeper(store)
    lost: list[Any] = []
    leases.hold("sync")

    def outage() -> None:
        raise OSError("connection refused")

    store.during = outage
    leases.hold("async", on_lost=lambda: lost.append("async"))
    await leases.beat()
    assert lost == [] and leases.held == 2
    store.during = lambda: None
    await leases.beat()
    assert lost == ["async"] and leases.held == 0


async def _watched(leases: LeaseKeeper, token: str) -> asyncio.Task[None]:
    """A run inside ``leases.watch(token)``, started and waiting."""
    started = asyncio.Event()

    async def run() -> None:
        with leases.watch(token):
            started.set()
            await asyncio.sleep(3600)

    task = asyncio.create_task(run())
    await started.wait()
    return task


async def test_a_watched_run_whose_lease_is_lost_is_cancelled_as_lease_lost() -> None:
    leases = keeper(MemoryLeases(set()))
    previous: list[str] = []
    leases.hold("stolen", on_lost=lambda: previous.append("runner"))
    task = await _watched(leases, "stolen")
    await leases.beat()
    with pytest.raises(LeaseLost):
        await task
    assert not task.cancelled() and previous == []  # the watch's own on_lost, not the runner's


async def test_a_cancel_from_elsewhere_stays_a_cancel_and_the_previous_on_lost_is_back(
) -> None:
    store = MemoryLeases({"kept"})
    leases = keeper(store)
    previous: list[str] = []
    leases.hold("kept", on_lost=lambda: previous.append("runner"))
    task = await _watched(leases, "kept")
    task.cancel()  # a shutdown, a client gone
    with pytest.raises(asyncio.CancelledError):
        await task
    store.live.clear()
    await leases.beat()
    assert previous == ["runner"]


async def test_a_lease_already_gone_is_lost_before_the_run_starts() -> None:
    leases = keeper(MemoryLeases(set()))
    with pytest.raises(LeaseLost), leases.watch("never-held"):
        raise AssertionError("the block must not run")
