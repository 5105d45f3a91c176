"""LeaseKeeper: which runs a heartbeat that finds leases gone stops, over an in-memory store."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from gateway.services.leases import LeaseKeeper


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
