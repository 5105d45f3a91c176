"""The values that cross the boundary between the dispatcher and the executors.

Executors know nothing of HTTP, the store or triggers: they receive a
:class:`CodeSpec` (what to run), a :class:`CallContext` (who and until when)
and an event, and return an :class:`ExecutionResult`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "COMPILED_RUNTIMES",
    "DEFAULT_CPU_MILLIS",
    "DEFAULT_MEMORY_MB",
    "CallContext",
    "CodeSpec",
    "ErrorInfo",
    "ExecutionResult",
    "FailureKind",
    "LogLine",
    "NETWORKS",
    "Network",
    "Runtime",
    "RUNTIMES",
]

Runtime = Literal["python", "nodejs", "go", "rust"]
Network = Literal["egress", "none"]
NETWORKS: tuple[Network, ...] = ("egress", "none")
RUNTIMES: tuple[Runtime, ...] = ("python", "nodejs", "go", "rust")
# Compiled at deploy (executors/compile.py): a worker is an exec of the function's own
# binary, so no pre-started generic worker can serve them.
COMPILED_RUNTIMES: tuple[Runtime, ...] = ("go", "rust")
# A function's limits unless it sets its own (the API's defaults): pre-started workers'
# cgroups have them already, so most cold starts write no limit.
DEFAULT_MEMORY_MB = 256
DEFAULT_CPU_MILLIS = 1000

# RUNTIME_ERROR: the user's code raised or returned something unusable;
# TIMEOUT: killed at its deadline. ``ErrorInfo.type`` says more
# (e.g. ``WorkerCrashed``, ``OutOfMemory``, ``ResultTooLarge``, ``InvalidResult``).
FailureKind = Literal["RUNTIME_ERROR", "TIMEOUT"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeSpec:
    """One runnable function version: the unit a warm worker is specialized for."""

    function_id: int
    function_name: str
    version: int
    runtime: Runtime
    code: str
    handler: str = "handler"
    environment: Mapping[str, str] = field(default_factory=dict, repr=False)  # holds secrets
    memory_mb: int = DEFAULT_MEMORY_MB
    min_warm: int = 0
    # A published dependency build (``Builder.build(...).path``); None: no dependencies.
    dependencies_path: str | None = None
    # Sandbox profile: "egress" (public addresses only) or "none" (no network at all).
    network: Network = "egress"
    # Size cap of each private writable filesystem (/tmp, the working directory, /dev/shm).
    ephemeral_storage_mb: int = 512
    # CPU quota in thousandths of a core (1000: one core).
    cpu_millis: int = DEFAULT_CPU_MILLIS
    # Go and Rust: the published build holding the function's binary (``Compiler``).
    binary_path: str | None = None

    # The key, once asked for (a pool asks several times per call).
    _key: str | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def key(self) -> str:
        """Warm workers are shared by invocations with the same key (code, env, deps,
        sandbox profile and limits)."""
        if self._key is None:
            object.__setattr__(self, "_key", self._make_key())
        assert self._key is not None
        return self._key

    def _make_key(self) -> str:
        key = (
            f"{self.function_id}:{self.version}:{_env_digest(self.environment)}"
            f":{self.network}:{self.ephemeral_storage_mb}:{self.memory_mb}:{self.cpu_millis}"
        )
        if self.dependencies_path is not None:
            key += ":" + _text_digest(self.dependencies_path)
        if self.binary_path is not None:
            key += ":" + _text_digest(self.binary_path)
        return key


def _env_digest(env: Mapping[str, str]) -> str:
    import hashlib

    import orjson

    raw = orjson.dumps(dict(env), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(raw).hexdigest()[:16]


def _text_digest(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


@dataclass(frozen=True, slots=True, kw_only=True)
class CallContext:
    """What the function's ``context`` argument shows it (besides ``remaining_ms()``)."""

    job_id: str
    function_name: str
    version: int
    trigger: str
    deadline_ms: int  # epoch milliseconds
    sub: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # session context, untrusted


@dataclass(frozen=True, slots=True, kw_only=True)
class LogLine:
    """One line the function printed."""

    timestamp: float  # epoch seconds
    stream: Literal["stdout", "stderr"]
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorInfo:
    """Why a run failed, as the API's ``error.details`` shows it."""

    type: str
    message: str
    stack_trace: str | None = None
    line: int | None = None
    column: int | None = None

    def as_details(self) -> dict[str, Any]:
        details: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.stack_trace is not None:
            details["stack_trace"] = self.stack_trace
        if self.line is not None:
            details["line"] = self.line
        if self.column is not None:
            details["column"] = self.column
        return details


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionResult:
    """The outcome of one call; ``failure`` is None exactly when the run succeeded."""

    result: Any = None
    failure: FailureKind | None = None
    error: ErrorInfo | None = None
    logs: tuple[LogLine, ...] = ()
    logs_truncated: bool = False
    cold_start: bool = False
    duration_ms: float = 0.0
    cpu_ms: float | None = None
    max_rss_bytes: int | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None
