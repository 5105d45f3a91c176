"""Key rotation of the secrets sealed at rest (0015_secrets.sql)."""

from __future__ import annotations

import logging
from typing import Any

from gateway.core.secretbox import SecretBox

__all__ = ["reseal_secrets"]

logger = logging.getLogger("fngate.secrets")

# Every table with a layer of sealed secrets; fixed names, never input.
_TABLES = ("system_settings", "projects", "functions")


async def reseal_secrets(pool: Any, box: SecretBox) -> int:
    """Re-seal with the current key every stored token sealed with a previous one; return
    how many were. A token no configured key opens raises
    :class:`~gateway.core.secretbox.SecretsUnreadable` (the gateway then refuses to start
    rather than run functions without their secrets).

    Each token is replaced only if it is still the one read, so replicas starting together
    never overwrite a newer value with an older one.
    """
    resealed = 0
    for table in _TABLES:
        rows = await pool.fetch(f"SELECT id, secrets FROM {table} WHERE secrets IS NOT NULL")
        for row in rows:
            token = box.reseal(row["secrets"])
            if token is None:
                continue
            status = await pool.execute(
                f"UPDATE {table} SET secrets = $2 WHERE id = $1 AND secrets = $3",
                row["id"], token, row["secrets"])
            resealed += status.endswith(" 1")
    if resealed:
        logger.info("secrets re-sealed with the current key", extra={"count": resealed})
    return resealed
