"""What the worker pools hold, declared once for the modules that share it:
:class:`~executors.pool.WorkerPools` sets each attribute in its ``__init__``;
:mod:`executors.pool_status` reads them, :mod:`executors.pool_spawning` starts and ends
workers with them."""

from __future__ import annotations

import asyncio
import itertools
import logging
from pathlib import Path
from typing import Any

import config
from executors.budget import WorkerBudget
from executors.build import Builder
from executors.compile import Compiler
from executors.limits import CgroupRoot, WorkerUser
from executors.models import Network, Runtime
from executors.process import Worker
from executors.runtimes import RuntimeCommand
from executors.sandbox import Sandbox, UidPool

__all__ = ["DEFAULT_STORAGE_MB", "PoolState", "Profile", "logger"]

logger = logging.getLogger("fngate.executors")

# A generic worker's sandbox is made before any function is known: pools of them
# are kept per (runtime, network, ephemeral storage size).
Profile = tuple[Runtime, Network, int]
DEFAULT_STORAGE_MB = 512


class PoolState:
    """The attributes of one replica's worker pools (no behaviour of its own)."""

    _settings: config.Settings
    _commands: dict[Runtime, RuntimeCommand | None]
    _user: WorkerUser
    _cgroups: CgroupRoot | None
    sandbox: Sandbox
    sandbox_error: str | None
    _uids: UidPool | None
    _base: Path | None
    _names: itertools.count[int]
    _prefix: str
    _idle: dict[str, list[Worker]]
    _busy: set[Worker]
    _generic: dict[Profile, list[Worker]]
    _starting: dict[Profile, int]
    _wanted: set[Profile]
    _spawn_failed: dict[Runtime, bool]
    _all: set[Worker]
    _tasks: set[asyncio.Task[Any]]
    _reaper: asyncio.Task[None] | None
    _closed: bool
    _builds: Path | None
    budget: WorkerBudget[Worker]
    _evicted: set[Worker]
    builder: Builder
    compiler: Compiler
