"""Which idle workers to end: past their idle TTL (the reaper), or to make room at the cap.

Both keep each function's ``min_warm`` where they can, counting its busy workers too; both
only choose, and the pools end the workers chosen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from executors.process import Worker

__all__ = ["expired", "to_evict"]


def expired(idle: Mapping[str, Sequence[Worker]], busy: Iterable[Worker],
            cutoff: float) -> list[Worker]:
    """Idle workers last used before ``cutoff``, oldest first, while each function keeps
    ``min_warm`` alive (idle or busy)."""
    alive_per_key = _busy_per_key(busy)
    doomed: list[Worker] = []
    for key, workers in idle.items():
        keep = _min_warm(workers)
        alive = len(workers) + alive_per_key.get(key, 0)
        # Oldest first: the most recently used ones are the ones worth keeping.
        for worker in workers:
            if alive <= keep:
                break
            if worker.last_used < cutoff:
                doomed.append(worker)
                alive -= 1
    return doomed


def to_evict(generic: Iterable[Sequence[Worker]], idle: Mapping[str, Sequence[Worker]],
             busy: Iterable[Worker], keep_key: str, runtime: str | None = None) -> Worker | None:
    """The idle worker to end so a call of ``keep_key`` can have its slot: a pre-started
    one first, then the least recently used warm one above its function's ``min_warm``,
    then the least recently used of any other function; None if there is none. With
    ``runtime``, only a worker of that runtime (its share is what the call waits on)."""
    busy_per_key = _busy_per_key(busy)
    candidates: list[tuple[int, float, Worker]] = [
        (0, w.last_used, w) for workers in generic for w in workers if w.alive]
    for key, workers in idle.items():
        if key == keep_key:
            continue
        spare = len(workers) + busy_per_key.get(key, 0) - _min_warm(workers)
        for i, w in enumerate(workers):  # least recently used first
            if w.alive:
                candidates.append((1 if i < spare else 2, w.last_used, w))
    if runtime is not None:
        candidates = [c for c in candidates if c[2].runtime == runtime]
    if not candidates:
        return None
    return min(candidates, key=lambda c: (c[0], c[1]))[2]


def _busy_per_key(busy: Iterable[Worker]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for worker in busy:
        if worker.spec is not None:
            counts[worker.spec.key] = counts.get(worker.spec.key, 0) + 1
    return counts


def _min_warm(workers: Sequence[Worker]) -> int:
    spec = workers[0].spec if workers else None
    return spec.min_warm if spec is not None else 0
