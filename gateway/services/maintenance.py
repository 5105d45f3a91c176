"""Background clean-up of rows whose life has ended (idempotency keys, old sessions, and
function log lines past their retention)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

from gateway.store.logs import LogStore

__all__ = ["run_maintenance", "prune_once", "LogRetention"]

logger = logging.getLogger("fngate.maintenance")

IDEMPOTENCY_KEY_TTL_S = 24 * 3600
ENDED_SESSION_KEEP_S = 24 * 3600


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LogRetention:
    """How long function log lines are kept: by age (days) and by count per function;
    0 turns a limit off."""

    max_age_days: float = 0.0
    max_lines: int = 0


async def prune_once(pool: Any, logs: LogRetention | None = None) -> dict[str, int]:
    """Delete expired idempotency keys, sessions that ended a day ago and, with ``logs``,
    log lines past their retention; return counts."""
    keys = await pool.execute(
        "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1)",
        float(IDEMPOTENCY_KEY_TTL_S),
    )
    sessions = await pool.execute(
        "DELETE FROM sessions WHERE expires_at < now() - make_interval(secs => $1)",
        float(ENDED_SESSION_KEEP_S),
    )
    counts = {"idempotency_keys": int(keys.split()[-1]), "sessions": int(sessions.split()[-1])}
    if logs is not None:
        counts.update(await LogStore(pool).prune(
            max_age_s=logs.max_age_days * 86400 or None, max_lines=logs.max_lines or None))
    return counts


async def run_maintenance(pool: Any, interval_s: float = 300.0,
                          logs: LogRetention | None = None) -> None:
    """Prune forever; a failed round is logged and retried at the next interval."""
    while True:
        try:
            counts = await prune_once(pool, logs)
            if any(counts.values()):
                logger.info("pruned", extra=counts)
        except Exception as exc:
            logger.warning("maintenance round failed", extra={"error": repr(exc)})
        await asyncio.sleep(interval_s)
