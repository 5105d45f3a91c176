"""What a request allows the result cache to do (``X-Cache-Control``, parsed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["CacheDirective"]


@dataclass(frozen=True, slots=True)
class CacheDirective:
    """What a request allows the cache to do (``default`` when it says nothing)."""

    mode: Literal["default", "no-cache", "no-store", "max-age"]
    max_age: int | None = None

    @property
    def reads(self) -> bool:
        """Whether a cached result may be served."""
        return self.mode in ("default", "max-age")

    @property
    def writes(self) -> bool:
        """Whether a fresh result may be stored."""
        return self.mode != "no-store"

    @property
    def max_age_s(self) -> int | None:
        """The oldest entry (seconds) a read may serve; None for any unexpired one."""
        return self.max_age if self.mode == "max-age" else None

    def ttl_s(self, cache_ttl: int) -> int:
        """The TTL to store a fresh result with, given the function's ``cache_ttl``."""
        if self.mode == "max-age" and self.max_age is not None:
            return min(self.max_age, cache_ttl)
        return cache_ttl
