"""FNGATE_MAX_WORKERS: its default from memory and cores, its validation, and the budget's
hand-out order (slots and handed-over workers, bounds, cancellation)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import executors.budget
from config import Settings, SettingsError, load
from config.capacity import default_max_workers, resolve_max_workers
from config.settings import RUNTIME_NAMES
from executors import CodeSpec, eviction
from executors.budget import CapacityExhausted, RuntimeCapacity, WorkerBudget
from executors.models import RUNTIMES

GIB = 1024**3


def _load(**env: str) -> Settings:
    return load(env, toml_path="/nonexistent.toml")


@pytest.mark.parametrize(("memory", "cores", "cap"), [
    (4 * GIB, 2, 32),        # memory and cores agree
    (64 * GIB, 16, 256),     # cores bind: 16 per core
    (2 * GIB, 16, 16),       # memory binds: 128 MiB each
    (1 * GIB, 0.5, 8),       # a cgroup's half a core
    (256 * 1024**2, 1, 4),   # a tiny host still gets the floor
    (0, 0, 4),
])
def test_the_default_cap_is_the_smaller_of_memory_and_cores_with_a_floor(
    memory: int, cores: float, cap: int,
) -> None:
    assert default_max_workers(memory, cores) == cap


def test_unset_means_derived_from_this_host_and_set_means_as_given() -> None:
    assert _load().max_workers is None
    assert resolve_max_workers(None) >= 4
    settings = _load(FNGATE_MAX_WORKERS="3")
    assert settings.max_workers == 3 and resolve_max_workers(settings.max_workers) == 3


@pytest.mark.parametrize("value", ["0", "-1", "1.5", "many", ""])
def test_a_cap_that_is_not_a_positive_whole_number_is_refused(value: str) -> None:
    with pytest.raises(SettingsError, match="(?i)max_workers"):
        _load(FNGATE_MAX_WORKERS=value)


def test_a_cap_below_one_is_refused_from_overrides_too() -> None:
    with pytest.raises(SettingsError, match="FNGATE_MAX_WORKERS"):
        load({}, toml_path="/nonexistent.toml", max_workers=0)


def _budget(limit: int) -> tuple[WorkerBudget[str], list[str]]:
    returned: list[str] = []
    return WorkerBudget(limit, unclaimed=returned.append), returned


async def test_slots_go_to_waiters_oldest_first_and_newcomers_queue_behind() -> None:
    budget, _ = _budget(1)
    assert budget.try_take() and not budget.try_take()
    order: list[int] = []

    async def waiter(i: int) -> None:
        assert await budget.wait(f"k{i}", None) is None
        order.append(i)

    tasks = [asyncio.create_task(waiter(i)) for i in range(3)]
    await asyncio.sleep(0)
    assert budget.waiting == 3
    for _ in range(3):
        budget.release()
        await asyncio.sleep(0)
        assert not budget.try_take()  # the slot moved to a waiter: none is free
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2] and budget.live == 1
    budget.release()
    assert budget.live == 0


async def test_a_bounded_wait_gives_up_and_leaves_the_queue() -> None:
    budget, _ = _budget(1)
    budget.try_take()
    with pytest.raises(CapacityExhausted, match="1 worker"):
        await budget.wait("k", 0.01)
    assert budget.waiting == 0
    budget.release()
    assert budget.live == 0 and budget.try_take()


async def test_a_worker_of_the_waiters_key_is_handed_over_before_older_waiters_tire() -> None:
    budget, _ = _budget(1)
    budget.try_take()
    other = asyncio.create_task(budget.wait("a", None))
    mine = asyncio.create_task(budget.wait("b", None))
    await asyncio.sleep(0)
    assert not budget.hand_over("c", "worker-c")  # nobody waits for c
    assert budget.hand_over("b", "worker-b")
    assert await mine == "worker-b" and budget.waiting == 1
    budget.release()
    assert await other is None


async def test_a_long_wait_of_another_key_stops_hand_overs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(executors.budget, "HANDOFF_PATIENCE_S", 0.0)
    budget, _ = _budget(1)
    budget.try_take()
    other = asyncio.create_task(budget.wait("a", None))
    mine = asyncio.create_task(budget.wait("b", None))
    await asyncio.sleep(0)
    assert not budget.hand_over("b", "worker-b")  # the caller ends it: "a" gets the slot
    budget.release()
    assert await other is None
    mine.cancel()


async def test_what_a_cancelled_waiter_was_handed_is_passed_on() -> None:
    budget, returned = _budget(1)
    budget.try_take()
    handed = asyncio.create_task(budget.wait("b", None))
    slotted = asyncio.create_task(budget.wait("c", None))
    await asyncio.sleep(0)
    assert budget.hand_over("b", "worker-b")
    handed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await handed
    assert returned == ["worker-b"]
    budget.release()  # to "c", which is cancelled before it runs: the slot is freed again
    slotted.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slotted
    assert budget.waiting == 0 and budget.live == 0


class _Idle:
    """What the eviction choice reads of a worker."""

    def __init__(self, key: int | None, last_used: float, min_warm: int = 0) -> None:
        self.alive = True
        self.last_used = last_used
        self.spec = None if key is None else CodeSpec(
            function_id=key, function_name="f", version=1, runtime="python", code="",
            min_warm=min_warm)


def test_eviction_ends_a_pre_started_worker_then_a_spare_warm_one_then_any() -> None:
    pre = _Idle(None, 5.0)
    kept = _Idle(1, 1.0, min_warm=1)  # the oldest, but its function's only warm worker
    spare_old, spare_new = _Idle(2, 2.0), _Idle(2, 3.0)
    mine = _Idle(3, 0.5)
    idle: dict[str, list[Any]] = {"1:1": [kept], "2:1": [spare_old, spare_new],
                                  "3:1": [mine]}
    assert eviction.to_evict([[pre]], idle, [], keep_key="3:1") is pre
    assert eviction.to_evict([], idle, [], keep_key="3:1") is spare_old
    idle.pop("2:1")
    assert eviction.to_evict([], idle, [], keep_key="3:1") is kept  # the cap comes first
    assert eviction.to_evict([], {"3:1": [mine]}, [], keep_key="3:1") is None


def test_the_reaper_keeps_min_warm_counting_busy_workers() -> None:
    busy = _Idle(1, 0.0, min_warm=1)
    old = _Idle(1, 1.0, min_warm=1)
    assert old.spec is not None
    key = old.spec.key
    assert eviction.expired({key: [old]}, [busy], cutoff=2.0) == [old]
    assert eviction.expired({key: [old]}, [], cutoff=2.0) == []


# --- per-runtime shares (FNGATE_MAX_WORKERS_PER_RUNTIME) ------------------------------


def _shared(limit: int, **shares: int) -> WorkerBudget[str]:
    return WorkerBudget(limit, unclaimed=lambda _w: None, shares=shares)


def test_a_runtime_at_its_share_takes_no_slot_while_others_still_do() -> None:
    budget = _shared(4, python=2)
    assert budget.try_take("python") and budget.try_take("python")
    assert not budget.try_take("python") and budget.at_share("python")
    assert budget.try_take("nodejs") and budget.try_take("nodejs")
    assert not budget.try_take("nodejs")  # the total cap binds now
    capacity = budget.capacity()
    assert (capacity.live, capacity.max) == (4, 4)
    assert capacity.runtimes["python"] == RuntimeCapacity(max=2, live=2, waiting=0)
    assert capacity.runtimes["nodejs"] == RuntimeCapacity(max=None, live=2, waiting=0)


async def test_a_call_waiting_on_its_share_holds_up_no_other_runtime() -> None:
    budget = _shared(4, python=1)
    assert budget.try_take("python")
    waiting = asyncio.create_task(budget.wait("py-b", None, "python"))
    await asyncio.sleep(0)
    assert budget.waiting == 1 and budget.capacity().runtimes["python"].waiting == 1
    # Two slots are free and the waiter cannot use them: a Node.js call is not queued.
    assert budget.try_take("nodejs")
    budget.release("nodejs")  # ends a Node.js worker: no room for the Python call
    await asyncio.sleep(0)
    assert not waiting.done()
    budget.release("python")  # its own runtime's worker ends: the slot goes to it
    assert await waiting is None
    assert budget.capacity().runtimes["python"] == RuntimeCapacity(max=1, live=1, waiting=0)
    assert budget.live == 1


async def test_a_freed_slot_goes_to_the_oldest_waiter_that_can_use_it() -> None:
    budget = _shared(2, python=1)
    assert budget.try_take("python") and budget.try_take("nodejs")
    python = asyncio.create_task(budget.wait("py", None, "python"))  # share and cap
    nodejs = asyncio.create_task(budget.wait("js", None, "nodejs"))  # cap only
    await asyncio.sleep(0)
    assert budget.waiting_for("nodejs") == 1 and budget.waiting_for("python") == 2
    budget.release("nodejs")  # the older Python call still may not: the Node.js one goes
    assert await nodejs is None and not python.done()
    budget.release("python")
    assert await python is None
    assert budget.capacity().runtimes == {
        "nodejs": RuntimeCapacity(max=None, live=1, waiting=0),
        "python": RuntimeCapacity(max=1, live=1, waiting=0)}


async def test_a_share_bound_wait_that_times_out_names_the_runtime() -> None:
    budget = _shared(8, python=1)
    budget.try_take("python")
    with pytest.raises(CapacityExhausted, match="all 1 python worker"):
        await budget.wait("py", 0.01, "python")
    assert budget.waiting == 0 and budget.live == 1


def test_eviction_for_a_runtime_at_its_share_ends_a_worker_of_that_runtime() -> None:
    js, py = _Idle(1, 1.0), _Idle(2, 2.0)
    js.runtime, py.runtime = "nodejs", "python"
    idle: dict[str, list[Any]] = {"1:1": [js], "2:1": [py]}
    assert eviction.to_evict([], idle, [], keep_key="3:1") is js  # the least recently used
    assert eviction.to_evict([], idle, [], keep_key="3:1", runtime="python") is py
    assert eviction.to_evict([], {"1:1": [js]}, [], keep_key="3:1", runtime="python") is None


def test_runtime_shares_are_parsed_and_bad_ones_refused_at_start() -> None:
    assert _load().worker_shares == {}
    assert _load(FNGATE_MAX_WORKERS_PER_RUNTIME="python=24, nodejs=16").worker_shares == {
        "python": 24, "nodejs": 16}
    for bad, message in (("python", "runtime=N"), ("python=0", "at least 1"),
                         ("python=two", "runtime=N"), ("ruby=3", "unknown runtime 'ruby'"),
                         ("python=1,python=2", "twice")):
        with pytest.raises(SettingsError, match=message):
            _load(FNGATE_MAX_WORKERS_PER_RUNTIME=bad)


def test_the_runtimes_settings_know_are_the_executors_runtimes() -> None:
    assert RUNTIME_NAMES == RUNTIMES
