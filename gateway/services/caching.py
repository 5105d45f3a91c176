"""How one request uses the result cache: its key, whether it reads and writes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from gateway.core.models import CacheState, FunctionRecord
from gateway.services.cache import CacheDirective, CachedResult, ResultCache, cache_key

__all__ = ["CachePlan", "plan_cache"]

logger = logging.getLogger("fngate.cache")


@dataclass(frozen=True, slots=True, kw_only=True)
class CachePlan:
    """The cache decisions of one invocation; ``state`` is its ``X-Cache`` on a run."""

    key: str | None
    reads: bool
    writes: bool
    ttl_s: int
    max_age_s: float | None

    @property
    def state(self) -> CacheState:
        return "MISS" if self.reads else "BYPASS"

    async def lookup(self, cache: ResultCache) -> CachedResult | None:
        if not self.reads or self.key is None:
            return None
        return await cache.get(self.key, max_age_s=self.max_age_s)

    async def store(self, cache: ResultCache, function_id: int, value: Any) -> None:
        """Best effort: the run already succeeded, so a failed write is only logged."""
        if not self.writes or self.key is None:
            return
        try:
            await cache.put(self.key, function_id=function_id, value=value, ttl_s=self.ttl_s)
        except Exception:
            logger.warning("result cache write failed", exc_info=True,
                           extra={"function_id": function_id})


def plan_cache(function: FunctionRecord, *, params: Any, owner: str,
               directive: CacheDirective) -> CachePlan:
    """Keyed by function, version, environment, params and (unless shared) the caller."""
    enabled = function.cache_ttl > 0 and directive.mode != "no-store"
    if not enabled:
        return CachePlan(key=None, reads=False, writes=False, ttl_s=0, max_age_s=None)
    key = cache_key(
        function_id=function.id, version=int(function.active_version or 0),
        environment=function.cache_environment, params=params,
        owner=None if function.cache_scope == "shared" else owner,
    )
    # Entries keep the TTL they were stored with: capping reads at the function's current
    # cache_ttl makes a lowered cache_ttl apply to them at once.
    max_age = function.cache_ttl
    if directive.max_age_s is not None:
        max_age = min(directive.max_age_s, max_age)
    return CachePlan(key=key, reads=directive.reads, writes=directive.writes,
                     ttl_s=directive.ttl_s(function.cache_ttl), max_age_s=max_age)
