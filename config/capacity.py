"""The default cap on live worker processes (``FNGATE_MAX_WORKERS``), from the host's size.

``min(memory ÷ 128 MiB, cores × 16)``, at least 4: a worker process costs ~30-60 MiB
resident before its function allocates anything (interpreter, sandbox helpers), so
128 MiB each leaves the functions room; most warm workers sit idle between calls, so
16 per core keeps the CPU, not the process table, the limit on a burst. Memory and cores
are what this process may use: a cgroup's ``memory.max`` and ``cpu.max`` when smaller
than the machine.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

__all__ = ["TYPICAL_WORKER_MB", "WORKERS_PER_CORE", "MIN_WORKERS", "default_max_workers",
           "host_capacity", "resolve_max_workers"]

TYPICAL_WORKER_MB = 128
WORKERS_PER_CORE = 16
MIN_WORKERS = 4

_CGROUP = Path("/sys/fs/cgroup")


def default_max_workers(memory_bytes: int, cores: float) -> int:
    """``max(MIN_WORKERS, min(memory ÷ TYPICAL_WORKER_MB, cores × WORKERS_PER_CORE))``."""
    by_memory = memory_bytes // (TYPICAL_WORKER_MB * 1024 * 1024)
    by_cores = math.floor(cores * WORKERS_PER_CORE)
    return max(MIN_WORKERS, min(by_memory, by_cores))


def host_capacity() -> tuple[int, float]:
    """(memory bytes, cores) this process may use. Reads small files: call off the loop."""
    memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    cores: float = float(len(os.sched_getaffinity(0)))
    own = _own_cgroup()
    if own is not None:
        limit = _read(own / "memory.max")
        if limit is not None and limit.isdigit():
            memory = min(memory, int(limit))
        quota = (_read(own / "cpu.max") or "max").split()
        if len(quota) == 2 and quota[0].isdigit() and quota[1].isdigit() and int(quota[1]):
            cores = min(cores, int(quota[0]) / int(quota[1]))
    return memory, cores


def resolve_max_workers(configured: int | None) -> int:
    """The cap in force: ``FNGATE_MAX_WORKERS`` when set, else the host's default."""
    if configured is not None:
        return configured
    return default_max_workers(*host_capacity())


def _own_cgroup() -> Path | None:
    text = _read(Path("/proc/self/cgroup")) or ""
    for line in text.splitlines():
        if line.startswith("0::"):  # cgroup v2
            path = _CGROUP / line[3:].lstrip("/")
            return path if path.is_dir() else None
    return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None
