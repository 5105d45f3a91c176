"""Domain values: functions as stored, jobs, and the invocations that make jobs."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from executors.models import Network
from gateway.core.cache_directive import CacheDirective

__all__ = [
    "CacheState",
    "CronFire",
    "FunctionRecord",
    "Invocation",
    "InvokeMode",
    "Invoked",
    "Job",
    "JobStatus",
    "TriggerKind",
    "VersionRecord",
    "BUILD_TO_STATUS",
]

JobStatus = Literal["pending", "running", "success", "failed"]
TriggerKind = Literal["http", "invoke", "session", "cron", "queue"]
InvokeMode = Literal["sync", "async", "auto", "held"]
CacheState = Literal["HIT", "MISS", "BYPASS"]

BUILD_TO_STATUS = {"success": "ready", "building": "building", "failed": "failed"}


@dataclass(frozen=True, slots=True, kw_only=True)
class VersionRecord:
    """One version of a function's code."""

    id: int
    function_id: int
    version: int
    runtime: str
    code: str
    handler: str
    dependencies: list[str]
    build_status: str
    build_log: str
    created_at: dt.datetime
    is_active: bool = False
    # What it serves with and how its build went (0012_version_builds.sql):
    resolved_dependencies: list[str] | None = None
    build_duration_ms: int | None = None
    build_finished_at: dt.datetime | None = None
    rebuild_dependencies: list[str] | None = None
    rebuild_status: str | None = None
    rebuild_log: str | None = None
    rebuild_started_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FunctionRecord:
    """A function with its active version's code, as the store holds it."""

    id: int
    name: str
    project: str
    runtime: str
    execution_type: str
    description: str
    environment: dict[str, str]
    timeout_ms: int
    memory_mb: int
    max_concurrency: int
    min_warm: int
    cache_ttl: int
    cache_scope: str
    max_retries: int
    rate_limit: str | None
    schema: dict[str, Any] | None
    examples: list[Any]
    labels: dict[str, str]
    active_version: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    # The worker's sandbox profile and CPU quota (0010_sandbox.sql):
    network: Network = "egress"
    ephemeral_storage_mb: int = 512
    cpu_millis: int = 1000
    # Of the active version:
    code: str = ""
    handler: str = "handler"
    dependencies: list[str] = field(default_factory=list)
    build_status: str = "success"
    # The layered set the active version serves with; None: not recorded (see
    # 0012_version_builds.sql), a run layers the lists as they are now.
    resolved_dependencies: list[str] | None = None
    # Of its project and the system, layered beneath its own (see gateway/core/projects.py):
    project_status: str = "running"
    # The project's max_concurrency quota (None: unlimited), counted at its gate.
    project_max_concurrency: int | None = None
    inherited_environment: dict[str, str] = field(default_factory=dict)
    inherited_dependencies: list[str] = field(default_factory=list)
    # Its own secrets' names (values are write-only), and every layer's secrets opened
    # (system, then project, then its own): only ever handed to its workers.
    secret_names: list[str] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    # Changes whenever a layer's secrets do; derived from the sealed tokens, not the values.
    secrets_fingerprint: str = ""

    @property
    def project_stopped(self) -> bool:
        return self.project_status == "stopped"

    @property
    def run_environment(self) -> dict[str, str]:
        """The worker's environment: the plain variables (system, then project, then the
        function's own), then the secrets layered the same way over them."""
        return {**self.inherited_environment, **self.environment, **self.secrets}

    @property
    def cache_environment(self) -> dict[str, str]:
        """What the result cache keys on instead of :attr:`run_environment`: the plain
        variables and the secrets' fingerprint (a key never hashes a secret's value, which
        a guess could be checked against)."""
        return {**self.inherited_environment, **self.environment,
                "": self.secrets_fingerprint}

    def run_dependencies(self, runtime: str, own: list[str]) -> list[str]:
        """The union of the layers as they are now with ``own`` (what a new build of a
        version with ``own`` dependencies installs)."""
        from gateway.core.projects import layered_dependencies

        return layered_dependencies(runtime, self.inherited_dependencies, own)

    @property
    def language(self) -> str:
        return self.runtime

    @property
    def language_title(self) -> str:
        return f"{self.runtime}-{self.name}"

    @property
    def status(self) -> str:
        return BUILD_TO_STATUS.get(self.build_status, self.build_status)

    @property
    def endpoint(self) -> str:
        return f"/api/v1/functions/{self.name}/invoke"

    def pinned_to(self, version: VersionRecord) -> FunctionRecord:
        """This function as it runs ``version`` (a session's pinned version)."""
        return dataclasses.replace(
            self, active_version=version.version, runtime=version.runtime, code=version.code,
            handler=version.handler, dependencies=list(version.dependencies),
            build_status=version.build_status,
            resolved_dependencies=version.resolved_dependencies,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CronFire:
    """One scheduled time of a cron trigger, claimed by exactly one replica."""

    trigger_id: int
    scheduled_at: dt.datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Invocation:
    """A request to run a function, from any entry point, as the invocation service
    (``gateway.services.invocation.Invoker``) receives it: already parsed and checked,
    nothing of HTTP, cron or AMQP left in it."""

    function: FunctionRecord
    event: Any
    trigger: TriggerKind
    owner: str = ""  # "<iss>|<sub>" of the caller; "" for system triggers
    subject: str | None = None
    context: Mapping[str, Any] = field(default_factory=dict)
    idempotency_key: str | None = None
    timeout_ms: int | None = None  # tighter than the function's own, e.g. a session's
    # How it runs: ``sync`` now, to its finished job; ``async`` recorded pending for the
    # job runners; ``auto`` by the function's ``execution_type``; ``held`` now, to its
    # final job, for a source that holds the work until then (a queue message).
    mode: InvokeMode = "sync"
    # What the result cache may do, for a sync run; None: the cache is not used.
    cache: CacheDirective | None = None
    # Where the finished job is POSTed; checked (scheme, address) by the entry point.
    callback_url: str | None = None
    # ``held``: names the message across deliveries, so a delivery finds its job; and
    # whether this delivery is a redelivery (a first one is a new message whatever its key).
    source_key: str | None = None
    redelivered: bool = True
    # ``held``: which run of its message this is (the source counts them and schedules
    # the retries; the job records it in ``attempts``).
    attempt: int = 1
    # ``async``: the cron fire this job is; only the replica that claims it records one.
    fire: CronFire | None = None

    def __post_init__(self) -> None:
        if self.source_key is not None and self.mode != "held":
            raise ValueError("source_key is for held invocations")
        if self.fire is not None and (self.mode != "async" or self.idempotency_key):
            raise ValueError("a cron fire is an async invocation without an idempotency key")
        if self.attempt < 1 or (self.attempt != 1 and self.mode != "held"):
            raise ValueError("attempt is a held invocation's run, from 1")
        if self.mode == "held" and self.idempotency_key is not None:
            raise ValueError("a held invocation is keyed by its source_key")


@dataclass(frozen=True, slots=True, kw_only=True)
class Invoked:
    """What an invocation came to, for its entry point to render."""

    job: Job
    # Recorded pending for the job runners (``async``), not run here: a 202.
    accepted: bool = False
    # An earlier invocation made this job (an Idempotency-Key seen before, a cron fire
    # another replica claimed, a queue message delivered again), returned as it stands.
    duplicate: bool = False
    # The result cache's part in a sync run (None: not consulted), and a hit's age.
    cache: CacheState | None = None
    age_s: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    """One invocation's record."""

    id: str
    function_id: int
    function_name: str
    version: int
    trigger: str
    status: JobStatus
    owner: str
    subject: str | None
    result: Any
    error: dict[str, Any] | None
    timestamp: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    duration: float | None
    cold_start: bool
    attempts: int
    cached: bool
    event: Any = None
    context: dict[str, Any] = field(default_factory=dict)
    lost_leases: int = 0

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Job:
        return cls(
            id=str(row["id"]),
            function_id=row["function_id"],
            function_name=row["function_name"],
            version=row["version"],
            trigger=row["trigger"],
            status=row["status"],
            owner=row["owner"],
            subject=row["subject"],
            result=row["result"],
            error=row["error"],
            timestamp=row["timestamp"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            duration=row["duration"],
            cold_start=row["cold_start"],
            attempts=row["attempts"],
            cached=row["cached"],
            event=row["event"],
            context=row["context"] or {},
            lost_leases=row["lost_leases"],
        )
