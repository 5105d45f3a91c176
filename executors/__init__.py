"""Worker pools that run functions in isolated, pre-started worker processes."""

from executors.budget import BuildQueued, CapacityExhausted
from executors.build import Builder, BuildResult
from executors.models import (
    CallContext,
    CodeSpec,
    ErrorInfo,
    ExecutionResult,
    LogLine,
)
from executors.pool import RuntimeUnavailable, WorkerPools

__all__ = [
    "BuildQueued",
    "BuildResult",
    "Builder",
    "CallContext",
    "CapacityExhausted",
    "CodeSpec",
    "ErrorInfo",
    "ExecutionResult",
    "LogLine",
    "RuntimeUnavailable",
    "WorkerPools",
]
