"""Wire models of ``/api/v1/provider/*``: what this gateway offers and whether it can
serve, for platforms that schedule work onto several providers."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gateway.schemas.base import ResponseModel
from gateway.schemas.health import Isolation

__all__ = ["Capabilities", "ProviderHealth"]


class Capabilities(ResponseModel):
    """What this gateway really offers, as configured and found on its machine."""

    name: Literal["fngate"]
    version: str
    supported_runtimes: list[str] = Field(description="Runtimes installed on this machine.",
                                          examples=[["python", "nodejs", "go", "rust"]])
    supported_trigger_types: list[Literal["http", "cron", "queue"]] = Field(
        description="`queue` only when a broker is configured (`FNGATE_AMQP_URL`).",
    )
    supports_async: Literal[True]
    supports_versioning: Literal[True]
    isolation: Isolation
    network_policies: list[Literal["egress", "none"]] = Field(
        description="The `network` values functions can run with here (`egress` is "
                    "unfiltered in `process` isolation).",
    )
    max_timeout_ms: int = Field(description="`FNGATE_MAX_TIMEOUT_MS`.")
    max_memory_mb: int = Field(description="`FNGATE_MAX_MEMORY_MB`.")
    max_payload_bytes: int = Field(description="`FNGATE_MAX_BODY_BYTES`.")
    typical_cold_start_ms: int | None = Field(
        ge=0,
        description="The median of the last 100 cold starts measured on this replica (the "
                    "time handing a worker the function's code added to a successful run, or "
                    "warming a session's worker); null before the first.",
    )


class ProviderHealth(ResponseModel):
    """This gateway can serve."""

    status: Literal["healthy"]
