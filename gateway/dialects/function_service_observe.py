"""Wire models of the Function Service's monitoring and provider answers (logs, metrics,
events, capabilities, health), each built from what the native service returns."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from gateway.core.jsoncodec import isoformat
from gateway.schemas.base import ResponseModel, Timestamp
from gateway.schemas.function_metrics import FunctionMetrics
from gateway.schemas.logs import LogLine
from gateway.schemas.provider import Capabilities
from gateway.store.events import EventRecord

__all__ = ["FS_METRICS", "RESOLUTIONS", "FsCapabilities", "FsConcurrency", "FsDurations",
           "FsEvent", "FsEvents", "FsHealthy", "FsLogEntry", "FsLogs", "FsMetrics",
           "FsUnhealthy", "capabilities_view", "event_view", "log_view", "metrics_view"]

#: ``resolution`` values the document names (the answer is one aggregate whatever it is).
RESOLUTIONS = ("1m", "5m", "1h")


class FsLogEntry(ResponseModel):
    timestamp: Timestamp
    level: Literal["info", "error"] = Field(description="`info` for stdout, `error` for stderr.")
    message: str
    container: str = Field(description="The job whose run printed it (each run has its own "
                                       "sandbox): `inv-<job id>`.")
    pod: str = Field(description="The same job: fngate has no pods.")


class FsLogs(ResponseModel):
    """``GET /functions/{functionId}/logs``."""

    logs: list[FsLogEntry] = Field(description="Oldest first.")


def log_view(line: LogLine) -> FsLogEntry:
    run = f"inv-{line.job_id}"
    return FsLogEntry(timestamp=line.timestamp,
                      level="info" if line.stream == "stdout" else "error",
                      message=line.message, container=run, pod=run)


class FsDurations(ResponseModel):
    """Milliseconds over the runs; null when none ran."""

    min: int | None
    max: int | None
    avg: int | None
    p50: int | None
    p95: int | None
    p99: int | None


class FsConcurrency(ResponseModel):
    """fngate does not record concurrency over time: ``min``, ``max`` and ``avg`` are null;
    ``current`` is the runs in flight on the replica that answers, ``limit`` the function's
    ``max_concurrency``."""

    min: float | None = None
    max: float | None = None
    avg: float | None = None
    current: int
    limit: int


class FsMetrics(ResponseModel):
    """``GET /functions/{functionId}/metrics``: one aggregate over ``[start, end)``."""

    invocations: int | None = None
    errors: int | None = None
    duration: FsDurations | None = None
    cold_starts: int | None = None
    concurrency: FsConcurrency | None = None


#: The names ``metrics[]`` may ask for.
FS_METRICS = tuple(FsMetrics.model_fields)


def _ms(value: float | None) -> int | None:
    return None if value is None else int(round(value))


def metrics_view(metrics: FunctionMetrics, wanted: set[str]) -> dict[str, Any]:
    """The document's metrics; only the ``wanted`` ones when the request named some."""
    d = metrics.duration
    body = FsMetrics(
        invocations=metrics.invocations.total, errors=metrics.invocations.failed,
        duration=FsDurations(min=_ms(d.min), max=_ms(d.max), avg=_ms(d.avg), p50=_ms(d.p50),
                             p95=_ms(d.p95), p99=_ms(d.p99)),
        cold_starts=metrics.cold_starts,
        concurrency=FsConcurrency(current=metrics.concurrency.current,
                                  limit=metrics.concurrency.max))
    return body.model_dump(include=wanted or None)


class FsEvent(ResponseModel):
    id: str = Field(examples=["evt-123"])
    type: str
    description: str
    metadata: dict[str, Any]
    actor: str | None = Field(description="The token's `sub` that made the change.")
    created_at: Timestamp


class FsEvents(ResponseModel):
    """``GET /functions/{functionId}/events``, newest first."""

    events: list[FsEvent]


def event_view(event: EventRecord) -> FsEvent:
    return FsEvent(id=f"evt-{event.id}", type=event.type, description=event.description,
                   metadata=dict(event.metadata), actor=event.actor,
                   created_at=isoformat(event.created_at))


class FsCapabilities(ResponseModel):
    """``GET /functions/provider/capabilities``."""

    name: str
    version: str
    description: str
    supports_versioning: bool
    supported_runtimes: list[str]
    supported_trigger_types: list[str]
    supports_async: bool
    supports_logs: bool
    supports_metrics: bool
    supports_environment_vars: bool
    supports_custom_images: bool
    max_memory_mb: int
    max_timeout_secs: int
    max_payload_size_mb: float
    typical_cold_start_ms: int | None
    supports_scale_to_zero: bool
    supports_auto_scaling: bool
    supports_https: bool
    supports_warm_pool: bool


def capabilities_view(native: Capabilities, runtimes: list[str],
                      triggers: list[str]) -> FsCapabilities:
    return FsCapabilities(
        name=native.name, version=native.version,
        description=f"fngate serverless gateway ({native.isolation} isolation)",
        supports_versioning=True, supported_runtimes=runtimes,
        supported_trigger_types=triggers, supports_async=True, supports_logs=True,
        supports_metrics=True, supports_environment_vars=True, supports_custom_images=False,
        max_memory_mb=native.max_memory_mb, max_timeout_secs=native.max_timeout_ms // 1000,
        max_payload_size_mb=round(native.max_payload_bytes / (1024 * 1024), 2),
        typical_cold_start_ms=native.typical_cold_start_ms, supports_scale_to_zero=True,
        supports_auto_scaling=True, supports_https=False, supports_warm_pool=True)


class FsHealthy(ResponseModel):
    status: Literal["healthy"] = "healthy"


class FsUnhealthy(ResponseModel):
    """The document's unhealthy answer (its own shape, not the error shape)."""

    error: Literal["Provider unhealthy"] = "Provider unhealthy"
    details: str
