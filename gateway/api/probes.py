"""Checks of what one replica depends on, shared by ``/health``, ``/ready`` and the
provider health route."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Literal

from gateway.api.context import Services
from gateway.schemas.health import HealthComponents, RuntimeStates
from gateway.store.migrate import migrations_applied

__all__ = ["ComponentStates", "State", "check_components", "database_ok", "ready",
           "rss_bytes"]

State = Literal["ok", "down", "disabled"]

PROBE_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ComponentStates:
    """Each dependency of the replica, as ``/health`` reports it."""

    database: State
    broker: State
    scheduler: State
    rate_limiter: State
    runtimes: dict[str, State]
    # The worker sandbox: ``down`` when no worker can start (it cannot be set up here).
    sandbox: State = "ok"
    # The rate limiter's Redis (``disabled`` when the limiter keeps its counts in memory).
    redis: State = "disabled"

    @property
    def overall(self) -> Literal["ok", "degraded", "down"]:
        """``down`` without a database (nothing works), ``degraded`` when anything else is."""
        if self.database == "down":
            return "down"
        others = (self.broker, self.scheduler, self.rate_limiter, self.sandbox,
                  *self.runtimes.values())
        return "degraded" if "down" in others else "ok"

    def down(self) -> list[str]:
        """Names of the components that are down (``runtimes.<name>`` for a runtime)."""
        names = [name for name, state in (("database", self.database), ("broker", self.broker),
                                          ("scheduler", self.scheduler),
                                          ("rate_limiter", self.rate_limiter),
                                          ("sandbox", self.sandbox))
                 if state == "down"]
        names += [f"runtimes.{rt}" for rt, state in self.runtimes.items() if state == "down"]
        return names

    def view(self) -> HealthComponents:
        """The states as ``/health`` shows them under ``components``."""
        return HealthComponents(database=self.database, broker=self.broker,
                                scheduler=self.scheduler, rate_limiter=self.rate_limiter,
                                sandbox=self.sandbox, runtimes=RuntimeStates(**self.runtimes),
                                controller="ok", postgres=self.database, redis=self.redis)


async def database_ok(services: Services, timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """Whether PostgreSQL answers a query within ``timeout_s``."""
    try:
        async with asyncio.timeout(timeout_s):
            await services.pool.fetchval("SELECT 1")
    except Exception:
        return False
    return True


async def ready(services: Services, timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """The database answers and every migration this code ships is applied."""
    if not services.migrated:
        return False
    try:
        async with asyncio.timeout(timeout_s):
            async with services.pool.acquire() as conn:
                return await migrations_applied(conn)
    except Exception:
        return False


async def check_components(services: Services) -> ComponentStates:
    """Probe the database; read the rest from their owners (the broker's state is the
    queue consumers' connection, ``disabled`` without ``FNGATE_AMQP_URL``)."""
    limiter = services.limiter.status()
    return ComponentStates(
        database="ok" if await database_ok(services) else "down",
        broker=services.queues.status(),
        scheduler=services.cron.status(),
        rate_limiter=limiter,
        redis=limiter if services.settings.redis_url else "disabled",
        runtimes=dict(services.pools.runtime_status()),
        sandbox="down" if services.pools.sandbox_error else "ok",
    )


def rss_bytes() -> int:
    """This process's resident memory in bytes (0 where ``/proc`` cannot tell)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0
