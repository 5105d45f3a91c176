"""The FIFO concurrency gate: order, bounds, timeouts and cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from gateway.services.concurrency import ConcurrencyGates, Gate, GateFull


async def test_waiters_get_slots_in_arrival_order() -> None:
    gate = Gate(1)
    await gate.acquire()
    order: list[int] = []

    async def waiter(i: int) -> None:
        await gate.acquire()
        order.append(i)
        await asyncio.sleep(0)
        gate.release()

    tasks = [asyncio.create_task(waiter(i)) for i in range(5)]
    await asyncio.sleep(0.01)
    # a newcomer arriving while others wait must queue behind them
    late = asyncio.create_task(waiter(99))
    await asyncio.sleep(0.01)
    gate.release()
    await asyncio.gather(*tasks, late)
    assert order == [0, 1, 2, 3, 4, 99]
    assert gate.active == 0 and gate.waiting == 0


async def test_full_wait_queue_is_refused() -> None:
    gate = Gate(1)
    await gate.acquire()
    waiting = asyncio.create_task(gate.acquire(max_waiters=1))
    await asyncio.sleep(0.01)
    with pytest.raises(GateFull):
        await gate.acquire(max_waiters=1)
    gate.release()
    await waiting
    assert gate.active == 1


async def test_timeout_leaves_no_ghost_waiter() -> None:
    gate = Gate(1)
    await gate.acquire()
    with pytest.raises(GateFull):
        await gate.acquire(timeout_s=0.02)
    assert gate.waiting == 0
    gate.release()
    assert gate.active == 0


async def test_cancelled_waiter_passes_its_slot_on() -> None:
    gate = Gate(1)
    await gate.acquire()
    first = asyncio.create_task(gate.acquire())
    second = asyncio.create_task(gate.acquire())
    await asyncio.sleep(0.01)
    first.cancel()
    gate.release()
    await second
    with pytest.raises(asyncio.CancelledError):
        await first
    assert gate.active == 1 and gate.waiting == 0


@pytest.mark.parametrize(("gate_of", "held"), [
    pytest.param(lambda gates, n: gates.gate(7, n), lambda gates: gates.current(7),
                 id="function"),
    pytest.param(lambda gates, n: gates.project_gate("p", n),
                 lambda gates: gates.project_current("p"), id="project"),
])
async def test_resize_wakes_waiters(
    gate_of: Callable[[ConcurrencyGates, int], Gate], held: Callable[[ConcurrencyGates], int]
) -> None:
    gates = ConcurrencyGates()
    gate = gate_of(gates, 1)
    await gate.acquire()
    waiter = asyncio.create_task(gate.acquire())
    await asyncio.sleep(0.01)
    assert not waiter.done()
    assert gate_of(gates, 2) is gate
    await asyncio.wait_for(waiter, 1)
    assert held(gates) == 2


async def test_in_use_counts_holders_and_waiters_and_a_free_slot_is_announced() -> None:
    gates = ConcurrencyGates()
    freed: list[tuple[int, Gate]] = []
    gates.on_free(lambda function_id, gate: freed.append((function_id, gate)))
    gate = gates.gate(3, 1)
    gates.gate(4, 2)  # a gate nobody uses is not listed
    await gate.acquire()
    waiter = asyncio.create_task(gate.acquire())
    await asyncio.sleep(0.01)
    assert gates.in_use() == {3: 2}
    gate.release()  # handed to the waiter: no slot fell free
    await waiter
    assert gates.in_use() == {3: 1} and freed == []
    gate.release()
    assert gates.in_use() == {} and freed == [(3, gate)]
    project = gates.project_gate("p", 1)
    await project.acquire()
    project.release()  # claims ignore project quotas: nobody is told
    assert freed == [(3, gate)]


async def test_a_project_gate_is_dropped_when_its_last_slot_falls_free() -> None:
    """Projects come and go: a quota's gate lives only while a slot of it is held."""
    gates = ConcurrencyGates()
    gate = gates.project_gate("p", 2)
    await gate.acquire()
    await gate.acquire()
    gate.release()
    assert gates.project_gate("p", 2) is gate and gates.project_current("p") == 1
    gate.release()
    assert gates.project_current("p") == 0 and "p" not in gates._projects
    again = gates.project_gate("p", 2)
    assert again is not gate and again.try_acquire()
