"""Background clean-up of rows whose life has ended (idempotency keys, old sessions)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

__all__ = ["run_maintenance", "prune_once"]

logger = logging.getLogger("fngate.maintenance")

IDEMPOTENCY_KEY_TTL_S = 24 * 3600
ENDED_SESSION_KEEP_S = 24 * 3600


async def prune_once(pool: Any) -> dict[str, int]:
    """Delete expired idempotency keys and sessions that ended a day ago; return counts."""
    keys = await pool.execute(
        "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1)",
        float(IDEMPOTENCY_KEY_TTL_S),
    )
    sessions = await pool.execute(
        "DELETE FROM sessions WHERE expires_at < now() - make_interval(secs => $1)",
        float(ENDED_SESSION_KEEP_S),
    )
    return {"idempotency_keys": int(keys.split()[-1]), "sessions": int(sessions.split()[-1])}


async def run_maintenance(pool: Any, interval_s: float = 300.0) -> None:
    """Prune forever; a failed round is logged and retried at the next interval."""
    while True:
        try:
            counts = await prune_once(pool)
            if any(counts.values()):
                logger.info("pruned", extra=counts)
        except Exception as exc:
            logger.warning("maintenance round failed", extra={"error": repr(exc)})
        await asyncio.sleep(interval_s)
