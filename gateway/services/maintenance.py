"""Background clean-up of rows whose life has ended (idempotency keys, old sessions,
finished jobs and function log lines past their retention, old cron fire claims)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Mapping
from typing import Any

from gateway.store.logs import LogStore
from gateway.store.retention import JobRetentionStore
from gateway.store.triggers import TriggerStore

__all__ = ["run_maintenance", "prune_once", "JobRetention", "LogRetention"]

logger = logging.getLogger("fngate.maintenance")

IDEMPOTENCY_KEY_TTL_S = 24 * 3600
ENDED_SESSION_KEEP_S = 24 * 3600
# A cron fire's claim is re-made at most a minute after its time (the newest of each
# trigger is kept apart: gateway/store/triggers.py); a day is far past that, and a fire
# stays at least as long as the job it made.
CRON_FIRE_KEEP_S = 24 * 3600


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LogRetention:
    """How long function log lines are kept: by age (days) and by count per function;
    0 turns a limit off."""

    max_age_days: float = 0.0
    max_lines: int = 0


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class JobRetention:
    """How long finished jobs are kept: by age (days since they finished) and by count per
    function (the newest this many). Settings refuse values that are not positive."""

    max_age_days: float = 7.0
    max_per_function: int = 10_000


async def prune_once(pool: Any, logs: LogRetention | None = None,
                     jobs: JobRetention | None = None) -> dict[str, int]:
    """Delete expired idempotency keys, sessions that ended a day ago and, with ``jobs``,
    finished jobs past their retention with their log lines (one replica at a time; the
    others skip it) and cron fires older than that retention or a day, whichever is
    longer, and, with ``logs``, log lines past theirs; return counts."""
    keys = await pool.execute(
        "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1)",
        float(IDEMPOTENCY_KEY_TTL_S),
    )
    sessions = await pool.execute(
        "DELETE FROM sessions WHERE expires_at < now() - make_interval(secs => $1)",
        float(ENDED_SESSION_KEEP_S),
    )
    counts = {"idempotency_keys": int(keys.split()[-1]), "sessions": int(sessions.split()[-1])}
    if jobs is not None:
        pruned = await JobRetentionStore(pool).prune(
            max_age_s=jobs.max_age_days * 86400, keep_per_function=jobs.max_per_function,
            key_ttl_s=IDEMPOTENCY_KEY_TTL_S)
        if pruned is not None:
            counts.update(pruned.as_counts())
        counts["cron_fires"] = await TriggerStore(pool).prune_cron_fires(
            max_age_s=max(CRON_FIRE_KEEP_S, jobs.max_age_days * 86400))
    if logs is not None:
        counts.update(await LogStore(pool).prune(
            max_age_s=logs.max_age_days * 86400 or None, max_lines=logs.max_lines or None))
    return counts


async def run_maintenance(pool: Any, interval_s: float = 300.0,
                          logs: LogRetention | None = None, jobs: JobRetention | None = None,
                          on_pruned: Callable[[Mapping[str, int]], None] | None = None) -> None:
    """Prune forever; a failed round is logged and retried at the next interval.
    ``on_pruned`` hears each round's counts (metrics)."""
    while True:
        try:
            counts = await prune_once(pool, logs, jobs)
            if on_pruned is not None:
                on_pruned(counts)
            if any(counts.values()):
                logger.info("pruned", extra=counts)
        except Exception as exc:
            logger.warning("maintenance round failed", extra={"error": repr(exc)})
        await asyncio.sleep(interval_s)
