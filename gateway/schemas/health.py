"""Wire models of the operator views: ``/health``, ``/ready`` and ``/status``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field
from typing_extensions import TypeAliasType

from gateway.schemas.base import ResponseModel

__all__ = ["ComponentState", "DialectName", "Health", "HealthComponents", "Isolation", "Ready",
           "RuntimeState", "RuntimeStates", "RuntimeWorkers", "SandboxStatus", "Status"]

ComponentState = TypeAliasType("ComponentState", Literal["ok", "down", "disabled"])

DialectName = TypeAliasType("DialectName", Literal[
    "function-api", "kube-serverless", "project-functions", "function-service"])

RuntimeState = TypeAliasType("RuntimeState", Annotated[
    Literal["ok", "down", "disabled"],
    Field(description="`disabled`: not installed on this machine; `down`: its workers fail "
                      "to start."),
])

Isolation = TypeAliasType("Isolation", Annotated[
    Literal["namespaces", "process"],
    Field(description="`namespaces`: every worker in its own bubblewrap sandbox; `process`: "
                      "plain processes, set explicitly with `FNGATE_SANDBOX=process`."),
])


class RuntimeStates(ResponseModel):
    """The state of each runtime this gateway knows."""

    # go and rust, and any runtime the gateway learns later, are listed with the same states.
    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, RuntimeState] = Field(init=False)

    python: RuntimeState
    nodejs: RuntimeState


class HealthComponents(ResponseModel):
    """Each dependency of the replica."""

    database: ComponentState
    broker: ComponentState = Field(description="The queue consumers' connection; `disabled` "
                                               "without `FNGATE_AMQP_URL`.")
    scheduler: ComponentState
    rate_limiter: ComponentState = Field(description="`disabled` when limits are `off`; `down` "
                                                     "while Redis does not answer (limits fail "
                                                     "open).")
    sandbox: ComponentState = Field(description="`down` when the worker sandbox cannot be set "
                                                "up here: no worker starts (see "
                                                "`sandbox.error`).")
    runtimes: RuntimeStates
    # The lambda-microservice document's names for three of them, so its clients read
    # /health unchanged.
    controller: ComponentState = Field(
        description="The gateway process that answers (the document's controller): `ok` "
                    "whenever it answers.")
    postgres: ComponentState = Field(description="The same as `database`.")
    redis: ComponentState = Field(
        description="The rate limiter's Redis: `disabled` without `FNGATE_REDIS_URL` or with "
                    "rate limits `off`, else the same as `rate_limiter`.")


class SandboxStatus(ResponseModel):
    """What the worker sandbox applies on this replica (docs/isolation.md)."""

    isolation: Isolation
    status: Literal["ok", "down"]
    error: str | None = Field(description="Why no worker can start, when `status` is `down`.")
    network_egress: str = Field(description="`filtered`, or why `network: egress` functions "
                                            "cannot run here.")
    per_worker_uid: bool = Field(description="Each worker has a uid of its own (root).")
    cpu_quota: bool = Field(description="CPU quotas are enforced (cgroup cpu).")
    memory_limit: Literal["cgroup", "rss-watchdog"]
    freezer: bool = Field(description="Idle workers are frozen (cgroup freezer).")


class Health(ResponseModel):
    """The state of this replica and of what it depends on."""

    status: Literal["ok", "degraded", "down"] = Field(
        description="`down` when the database is down; `degraded` when the broker, the "
                    "scheduler, the rate limiter's storage or a runtime is down.",
    )
    version: str
    components: HealthComponents
    isolation: Isolation
    sandbox: SandboxStatus


class Ready(ResponseModel):
    """Whether this replica is ready to serve."""

    status: Literal["ready", "not_ready"]


class RuntimeWorkers(ResponseModel):
    """One runtime's part of the worker cap."""

    max_workers: int | None = Field(ge=1, description="Its share of max_workers "
                                                      "(FNGATE_MAX_WORKERS_PER_RUNTIME); "
                                                      "null: held to max_workers only.")
    live_workers: int = Field(ge=0, description="Its worker processes alive or starting "
                                                "(builds are counted in the total only).")
    workers_waiting: int = Field(ge=0, description="Its calls waiting for a worker.")


class Status(ResponseModel):
    """The gateway's counters."""

    status: Literal["running"]
    isolation: Isolation
    uptime_seconds: int = Field(ge=0)
    active_projects: int = Field(ge=0, description="Running (not stopped) projects that have "
                                                   "at least one function.")
    total_functions: int = Field(ge=0)
    warm_workers: int = Field(ge=0)
    live_workers: int = Field(ge=0, description="Processes holding a slot of the worker cap "
                                                "on this replica, alive or starting: workers "
                                                "(pre-started, warm and busy) and build "
                                                "processes (dependency installs, Go and Rust "
                                                "compiles).")
    max_workers: int = Field(ge=1, description="FNGATE_MAX_WORKERS: the cap on live_workers "
                                               "(set, or derived from memory and cores).")
    workers_waiting: int = Field(ge=0, description="Calls and builds waiting for a slot at "
                                                   "the cap.")
    runtime_workers: dict[str, RuntimeWorkers] = Field(
        description="Per runtime with a share, a live worker or a waiting call: its share "
                    "and counts.")
    memory_usage_bytes: int = Field(ge=0, description="The gateway process's resident memory.")
    dialects: list[DialectName] = Field(
        description="The compatibility dialects this replica serves beside the native API "
                    "(`FNGATE_DIALECTS`, docs/compat.md); the paths of the others answer 404.")
