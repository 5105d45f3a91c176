"""Wire model of a function's invocation statistics."""

from __future__ import annotations

from pydantic import Field

from gateway.schemas.base import ResponseModel, Timestamp

__all__ = ["FunctionMetrics", "FunctionMetricsConcurrency", "FunctionMetricsDurations",
           "FunctionMetricsInvocations"]


class FunctionMetricsInvocations(ResponseModel):
    """Finished jobs, cache hits included."""

    total: int = Field(ge=0)
    successful: int = Field(ge=0)
    failed: int = Field(ge=0)


class FunctionMetricsDurations(ResponseModel):
    """Milliseconds over the runs (cache hits excluded); null when none ran."""

    min: float | None
    max: float | None
    avg: float | None
    p50: float | None
    p95: float | None
    p99: float | None


class FunctionMetricsConcurrency(ResponseModel):
    """Runs in flight on the replica that answers, and the function's per-replica limit."""

    current: int = Field(ge=0)
    max: int = Field(ge=1)


class FunctionMetrics(ResponseModel):
    """A function's invocation statistics."""

    invocations: FunctionMetricsInvocations
    success_rate: float = Field(ge=0, le=100)
    error_rate: float = Field(ge=0, le=1)
    cold_starts: int = Field(ge=0)
    cache_hits: int = Field(ge=0)
    avg_execution_time: float | None = Field(description="ms; = `duration.avg`.")
    duration: FunctionMetricsDurations
    cpu_usage: float | None = Field(description="Mean CPU ms per run.")
    memory_usage: int | None = Field(description="Highest peak RSS of a run's worker, bytes.")
    concurrency: FunctionMetricsConcurrency
    gb_seconds: float = Field(ge=0)
    # Documented, not checked: a negative price in the settings renders as computed.
    cost_estimate: float = Field(description="US dollars.", json_schema_extra={"minimum": 0})
    since: Timestamp | None = Field(description="The window's start, or null.")
