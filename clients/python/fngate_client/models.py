"""The API's wire models, generated from the gateway's /openapi.json by
clients/python/generate_models.py (datamodel-code-generator): do not edit; run the
script after a change to gateway/schemas."""

from __future__ import annotations

from typing import Annotated, Any, Dict, Literal
from uuid import UUID

from pydantic import (
    AnyUrl,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)
from typing_extensions import TypeAliasType

TypicalColdStartMs = TypeAliasType("TypicalColdStartMs", Annotated[int, Field(ge=0)])


class CronTriggerConfig(BaseModel):
    schedule: str
    timezone: str | None = "UTC"
    payload: Any | None = {}
    misfire: Literal["run_once", "skip"] | None = "run_once"


Name = TypeAliasType("Name", Annotated[str, Field(max_length=200)])


class CronTriggerCreate(BaseModel):
    type: Literal["cron", "schedule"]
    name: Name | None = None
    enabled: bool | None = True
    config: CronTriggerConfig


class CronTriggerUpdate(BaseModel):
    type: Literal["cron", "schedule"] | None = None
    name: Name | None = None
    enabled: bool | None = None
    config: CronTriggerConfig | None = None


class DependenciesData(BaseModel):
    data: Annotated[list[str], Field(max_length=100)]


class EnvironmentData(BaseModel):
    data: Annotated[
        dict[Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")], str],
        Field(max_length=1000),
    ]


class Event(BaseModel):
    id: int
    type: Literal["created", "updated", "deployed", "activated", "rolled_back", "build_failed", "trigger_added", "trigger_removed", "deleted"]
    description: str
    metadata: dict[str, Any]
    actor: str | None
    actor_issuer: str | None
    created_at: AwareDatetime


class ExecuteRequest(BaseModel):
    params: Any | None = {}


class ExecuteResponse(BaseModel):
    request_id: UUID
    language_title: str
    execution_time: Annotated[int, Field(ge=0)]
    cached: bool
    result: Any


Dependencies = TypeAliasType(
    "Dependencies", Annotated[list[str], Field(max_length=100)]
)


class FunctionEvents(BaseModel):
    events: list[Event]


class FunctionExampleRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
    )
    params: Any | None = None


class FunctionExampleResponse(BaseModel):
    model_config = ConfigDict(
        extra="allow",
    )
    result: Any | None = None


class FunctionMetricsConcurrency(BaseModel):
    current: Annotated[int, Field(ge=0)]
    max: Annotated[int, Field(ge=1)]


class FunctionMetricsDurations(BaseModel):
    min: float | None
    max: float | None
    avg: float | None
    p50: float | None
    p95: float | None
    p99: float | None


class FunctionMetricsInvocations(BaseModel):
    total: Annotated[int, Field(ge=0)]
    successful: Annotated[int, Field(ge=0)]
    failed: Annotated[int, Field(ge=0)]


class FunctionResources(BaseModel):
    cpu: str
    memory: str


Cpu = TypeAliasType(
    "Cpu",
    Annotated[str, Field(pattern="^(\\d{1,9}m|\\d{1,9}(\\.\\d{1,9})?|\\.\\d{1,9})$")],
)


class FunctionResourcesInput(BaseModel):
    cpu: Cpu | float | None = None
    memory: Annotated[
        str | None,
        Field(pattern="^(\\d{1,12}(\\.\\d{1,9})?|\\.\\d{1,9})(Ki|Mi|Gi|Ti|k|K|M|G|T)$"),
    ] = None


class FunctionSchemas(BaseModel):
    params: dict[str, Any] | bool | None = None
    result: dict[str, Any] | bool | None = None


HttpTriggerBody = TypeAliasType(
    "HttpTriggerBody", Annotated[Any, Field(title="HttpTriggerBody")]
)


class HttpTriggerConfig(BaseModel):
    path: Annotated[str, Field(pattern="^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$")]
    methods: Annotated[
        list[Literal["GET", "POST", "PUT", "PATCH", "DELETE"]] | None,
        Field(min_length=1),
    ] = ["GET", "POST"]
    public: bool | None = False


class HttpTriggerCreate(BaseModel):
    type: Literal["http"]
    name: Name | None = None
    enabled: bool | None = True
    config: HttpTriggerConfig


HttpTriggerOutput = TypeAliasType(
    "HttpTriggerOutput", Annotated[Any, Field(title="HttpTriggerOutput")]
)


class HttpTriggerUpdate(BaseModel):
    type: Literal["http"] | None = None
    name: Name | None = None
    enabled: bool | None = None
    config: HttpTriggerConfig | None = None


class InitializeResponse(BaseModel):
    request_id: UUID
    status: Literal["initialized"]
    expires_at: AwareDatetime


InvokeEvent = TypeAliasType("InvokeEvent", Annotated[Any, Field(title="InvokeEvent")])


Duration = TypeAliasType("Duration", Annotated[int, Field(ge=0)])


class LogLine(BaseModel):
    timestamp: AwareDatetime
    job_id: UUID
    stream: Literal["stdout", "stderr"]
    message: str


class OpenAPIDocument(BaseModel):
    model_config = ConfigDict(
        extra="allow",
    )


class ParamError(BaseModel):
    path: str
    message: str


class ProjectEvent(BaseModel):
    id: int
    type: Literal["created", "updated", "deployed", "activated", "rolled_back", "build_failed", "trigger_added", "trigger_removed", "deleted", "project_created", "project_updated", "quotas_changed", "environment_changed", "dependencies_changed", "secrets_changed", "project_started", "project_stopped", "webhook_added", "webhook_removed", "project_deleted"]
    description: str
    metadata: dict[str, Any]
    actor: str | None
    actor_issuer: str | None
    created_at: AwareDatetime
    function: str | None


class ProjectEvents(BaseModel):
    events: list[ProjectEvent]


MaxFunctions = TypeAliasType("MaxFunctions", Annotated[int, Field(ge=1, le=2147483647)])


MaxConcurrency = TypeAliasType(
    "MaxConcurrency", Annotated[int, Field(ge=1, le=2147483647)]
)


MaxMemoryMb = TypeAliasType("MaxMemoryMb", Annotated[int, Field(ge=1, le=2147483647)])


class ProjectQuotas(BaseModel):
    max_functions: MaxFunctions | None = None
    max_concurrency: MaxConcurrency | None = None
    max_memory_mb: MaxMemoryMb | None = None


Description = TypeAliasType("Description", Annotated[str, Field(max_length=4096)])


class ProjectUpdate(BaseModel):
    description: Description | None = None
    quotas: ProjectQuotas | None = None


class ProviderHealth(BaseModel):
    status: Literal["healthy"]


class QueueTriggerConfig(BaseModel):
    queue: Annotated[str, Field(pattern="^[A-Za-z0-9_.:/@-]{1,240}$")]
    exchange: str | None = ""
    routing_key: str | None = ""
    prefetch: Annotated[int | None, Field(ge=1, le=1000)] = 10
    dead_letter: bool | None = True


class QueueTriggerCreate(BaseModel):
    type: Literal["queue"]
    name: Name | None = None
    enabled: bool | None = True
    config: QueueTriggerConfig


class QueueTriggerUpdate(BaseModel):
    type: Literal["queue"] | None = None
    name: Name | None = None
    enabled: bool | None = None
    config: QueueTriggerConfig | None = None


class QuotasView(BaseModel):
    max_functions: int | None
    max_concurrency: int | None
    max_memory_mb: int | None


class Ready(BaseModel):
    status: Literal["ready", "not_ready"]


class RuntimeStates(BaseModel):
    model_config = ConfigDict(
        extra="allow",
    )
    __annotations__ = {
        "__pydantic_extra__": Dict[str, Literal["ok", "down", "disabled"]],
    }
    python: Literal["ok", "down", "disabled"]
    nodejs: Literal["ok", "down", "disabled"]


MaxWorkers = TypeAliasType("MaxWorkers", Annotated[int, Field(ge=1)])


class RuntimeWorkers(BaseModel):
    max_workers: MaxWorkers | None
    live_workers: Annotated[int, Field(ge=0)]
    workers_waiting: Annotated[int, Field(ge=0)]


class SandboxStatus(BaseModel):
    isolation: Literal["namespaces", "process"]
    status: Literal["ok", "down"]
    error: str | None
    network_egress: str
    per_worker_uid: bool
    cpu_quota: bool
    memory_limit: Literal["cgroup", "rss-watchdog"]
    freezer: bool


class SecretNames(BaseModel):
    names: list[str]


class SecretsData(BaseModel):
    data: Annotated[
        dict[Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")], str],
        Field(max_length=1000),
    ]


class Session(BaseModel):
    request_id: UUID
    language_title: str
    status: Literal["active", "expired", "closed"]
    created_at: AwareDatetime
    expires_at: AwareDatetime
    execution_count: Annotated[int, Field(ge=0)]
    last_executed_at: AwareDatetime | None


class SessionContext(BaseModel):
    model_config = ConfigDict(
        extra="allow",
    )
    environment: str | None = None
    user_id: str | None = None
    timeout_ms: Annotated[int | None, Field(ge=1)] = 30000
    retain_session: bool | None = True


class Status(BaseModel):
    status: Literal["running"]
    isolation: Literal["namespaces", "process"]
    uptime_seconds: Annotated[int, Field(ge=0)]
    active_projects: Annotated[int, Field(ge=0)]
    total_functions: Annotated[int, Field(ge=0)]
    warm_workers: Annotated[int, Field(ge=0)]
    live_workers: Annotated[int, Field(ge=0)]
    max_workers: Annotated[int, Field(ge=1)]
    workers_waiting: Annotated[int, Field(ge=0)]
    runtime_workers: dict[str, RuntimeWorkers]
    memory_usage_bytes: Annotated[int, Field(ge=0)]
    dialects: list[Literal["function-api", "kube-serverless", "project-functions", "function-service"]]


TriggerCreate = TypeAliasType(
    "TriggerCreate",
    Annotated[
        HttpTriggerCreate | CronTriggerCreate | QueueTriggerCreate,
        Field(discriminator="type", title="TriggerCreate"),
    ],
)


TriggerUpdate = TypeAliasType(
    "TriggerUpdate",
    Annotated[
        HttpTriggerUpdate | CronTriggerUpdate | QueueTriggerUpdate,
        Field(title="TriggerUpdate"),
    ],
)


BuildDurationMs = TypeAliasType("BuildDurationMs", Annotated[int, Field(ge=0)])


Version1 = TypeAliasType("Version1", Annotated[int, Field(ge=1, le=999999999)])


class VersionCreate(BaseModel):
    code: str | None = None
    source_code: Annotated[
        str | None, Field(json_schema_extra={"contentEncoding": "base64"})
    ] = None
    handler: Annotated[
        str | None,
        Field(min_length=1, pattern="^(?:[\\s\\S]*\\.)?[A-Za-z_$][A-Za-z0-9_$]*$"),
    ] = None
    dependencies: Dependencies | None = None
    activate: bool | None = False
    version: Version1 | None = None


class VersionRebuild(BaseModel):
    status: Literal["building", "failed"]
    dependencies: list[str]
    build_log: str | None
    started_at: AwareDatetime | None


Project1 = TypeAliasType(
    "Project1", Annotated[str, Field(pattern="^[a-z][a-z0-9-]{0,62}$")]
)


class Capabilities(BaseModel):
    name: Literal["fngate"]
    version: str
    supported_runtimes: list[str]
    supported_trigger_types: list[Literal["http", "cron", "queue"]]
    supports_async: Literal[True]
    supports_versioning: Literal[True]
    isolation: Literal["namespaces", "process"]
    network_policies: list[Literal["egress", "none"]]
    max_timeout_ms: int
    max_memory_mb: int
    max_payload_bytes: int
    typical_cold_start_ms: TypicalColdStartMs | None


class CronTrigger(BaseModel):
    id: int
    function_id: int
    name: str | None
    type: Literal["cron"]
    enabled: bool
    config: CronTriggerConfig
    created_at: AwareDatetime
    updated_at: AwareDatetime
    next_run_at: AwareDatetime | None


class Details(BaseModel):
    model_config = ConfigDict(
        extra="allow",
    )
    errors: list[ParamError] | None = None


class ErrorObject(BaseModel):
    code: Literal["INVALID_REQUEST", "INVALID_PARAMS", "INVALID_RUNTIME", "UNAUTHORIZED", "FORBIDDEN", "NOT_FOUND", "FUNCTION_NOT_FOUND", "VERSION_NOT_FOUND", "TRIGGER_NOT_FOUND", "PROJECT_NOT_FOUND", "JOB_NOT_FOUND", "SESSION_NOT_FOUND", "CONFLICT", "PROJECT_STOPPED", "PAYLOAD_TOO_LARGE", "RATE_LIMITED", "CONCURRENCY_LIMIT", "RUNTIME_ERROR", "INTERNAL_ERROR", "BUILD_FAILED", "QUOTA_EXCEEDED", "UNAVAILABLE", "TIMEOUT"]
    message: str
    details: Details


Triggers = TypeAliasType(
    "Triggers",
    Annotated[
        list[Annotated[HttpTriggerCreate | CronTriggerCreate | QueueTriggerCreate, Field(discriminator="type")]],
        Field(max_length=20),
    ],
)


class FunctionExample(BaseModel):
    model_config = ConfigDict(
        extra="allow",
    )
    description: str | None = None
    request: FunctionExampleRequest | None = None
    response: FunctionExampleResponse | None = None


class FunctionForm(BaseModel):
    name: Annotated[str | None, Field(pattern="^[A-Za-z][A-Za-z0-9_-]{0,63}$")] = None
    runtime: str | None = None
    code: Annotated[
        str | None, Field(json_schema_extra={"contentMediaType": "text/plain"})
    ] = None
    source_code: Annotated[
        str | None, Field(json_schema_extra={"contentEncoding": "base64"})
    ] = None
    handler: Annotated[
        str | None,
        Field(min_length=1, pattern="^(?:[\\s\\S]*\\.)?[A-Za-z_$][A-Za-z0-9_$]*$"),
    ] = "handler"
    dependencies: Dependencies | None = None
    triggers: Triggers | None = None
    project: Annotated[str | None, Field(pattern="^[a-z][a-z0-9-]{0,62}$")] = "default"
    execution_type: Literal["sync", "async"] | None = "sync"
    description: str | None = ""
    environment: (
        dict[
            Annotated[
                str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
            ],
            str,
        ]
        | None
    ) = {}
    secrets: (
        dict[
            Annotated[
                str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
            ],
            str,
        ]
        | None
    ) = {}
    labels: dict[str, str] | None = {}
    timeout_ms: Annotated[int | None, Field(ge=1, le=300000)] = 30000
    memory_mb: Annotated[int | None, Field(ge=16, le=2048)] = 256
    network: Literal["egress", "none"] | None = "egress"
    ephemeral_storage_mb: Annotated[int | None, Field(ge=16, le=10240)] = 512
    cpu_millis: Annotated[int | None, Field(ge=10, le=64000)] = 1000
    resources: FunctionResourcesInput | None = None
    max_concurrency: Annotated[int | None, Field(ge=1, le=1000)] = 10
    min_warm: Annotated[int | None, Field(ge=0, le=100)] = 0
    cache_ttl: Annotated[int | None, Field(ge=0, le=2592000)] = 3600
    cache_scope: Literal["caller", "shared"] | None = "caller"
    max_retries: Annotated[int | None, Field(ge=0, le=20)] = 0
    rate_limit: str | None = None
    schema_: Annotated[FunctionSchemas | None, Field(alias="schema")] = None
    examples: Annotated[list[FunctionExample] | None, Field(validate_default=True)] = []
    maxReplicas: Annotated[int | None, Field(deprecated=True, ge=1, le=1000)] = None
    minReplicas: Annotated[int | None, Field(deprecated=True, ge=0, le=100)] = None
    requirements: Annotated[
        str | None, Field(json_schema_extra={"contentMediaType": "text/plain"})
    ] = None


class FunctionLogs(BaseModel):
    logs: list[LogLine]


class FunctionMetrics(BaseModel):
    invocations: FunctionMetricsInvocations
    success_rate: Annotated[float, Field(ge=0.0, le=100.0)]
    error_rate: Annotated[float, Field(ge=0.0, le=1.0)]
    cold_starts: Annotated[int, Field(ge=0)]
    cache_hits: Annotated[int, Field(ge=0)]
    avg_execution_time: float | None
    duration: FunctionMetricsDurations
    cpu_usage: float | None
    memory_usage: int | None
    concurrency: FunctionMetricsConcurrency
    gb_seconds: Annotated[float, Field(ge=0.0)]
    cost_estimate: Annotated[float, Field(ge=0.0)]
    since: AwareDatetime | None


class FunctionUpdate(BaseModel):
    name: Annotated[str | None, Field(pattern="^[A-Za-z][A-Za-z0-9_-]{0,63}$")] = None
    runtime: str | None = None
    code: str | None = None
    source_code: Annotated[
        str | None, Field(json_schema_extra={"contentEncoding": "base64"})
    ] = None
    handler: Annotated[
        str | None,
        Field(min_length=1, pattern="^(?:[\\s\\S]*\\.)?[A-Za-z_$][A-Za-z0-9_$]*$"),
    ] = "handler"
    dependencies: Dependencies | None = None
    triggers: Triggers | None = None
    project: Annotated[str | None, Field(pattern="^[a-z][a-z0-9-]{0,62}$")] = "default"
    execution_type: Literal["sync", "async"] | None = "sync"
    description: str | None = ""
    environment: (
        dict[
            Annotated[
                str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
            ],
            str,
        ]
        | None
    ) = {}
    secrets: (
        dict[
            Annotated[
                str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
            ],
            str,
        ]
        | None
    ) = {}
    labels: dict[str, str] | None = {}
    timeout_ms: Annotated[int | None, Field(ge=1, le=300000)] = 30000
    memory_mb: Annotated[int | None, Field(ge=16, le=2048)] = 256
    network: Literal["egress", "none"] | None = "egress"
    ephemeral_storage_mb: Annotated[int | None, Field(ge=16, le=10240)] = 512
    cpu_millis: Annotated[int | None, Field(ge=10, le=64000)] = 1000
    resources: FunctionResourcesInput | None = None
    max_concurrency: Annotated[int | None, Field(ge=1, le=1000)] = 10
    min_warm: Annotated[int | None, Field(ge=0, le=100)] = 0
    cache_ttl: Annotated[int | None, Field(ge=0, le=2592000)] = 3600
    cache_scope: Literal["caller", "shared"] | None = "caller"
    max_retries: Annotated[int | None, Field(ge=0, le=20)] = 0
    rate_limit: str | None = None
    schema_: Annotated[FunctionSchemas | None, Field(alias="schema")] = None
    examples: Annotated[list[FunctionExample] | None, Field(validate_default=True)] = []
    maxReplicas: Annotated[int | None, Field(deprecated=True, ge=1, le=1000)] = None
    minReplicas: Annotated[int | None, Field(deprecated=True, ge=0, le=100)] = None


class HealthComponents(BaseModel):
    database: Literal["ok", "down", "disabled"]
    broker: Literal["ok", "down", "disabled"]
    scheduler: Literal["ok", "down", "disabled"]
    rate_limiter: Literal["ok", "down", "disabled"]
    sandbox: Literal["ok", "down", "disabled"]
    runtimes: RuntimeStates
    controller: Literal["ok", "down", "disabled"]
    postgres: Literal["ok", "down", "disabled"]
    redis: Literal["ok", "down", "disabled"]


class HttpTrigger(BaseModel):
    id: int
    function_id: int
    name: str | None
    type: Literal["http"]
    enabled: bool
    config: HttpTriggerConfig
    created_at: AwareDatetime
    updated_at: AwareDatetime


class InitializeRequest(BaseModel):
    context: SessionContext | None = None


class Job(BaseModel):
    id: UUID
    function_id: int
    function_name: str
    version: int
    trigger: Literal["http", "invoke", "session", "cron", "queue"]
    status: Literal["pending", "running", "success", "failed"]
    result: Any
    error: ErrorObject | None
    timestamp: AwareDatetime
    started_at: AwareDatetime | None
    finished_at: AwareDatetime | None
    duration: Duration | None
    cold_start: bool
    attempts: Annotated[int, Field(ge=0)]
    cached: bool


class JobList(BaseModel):
    jobs: list[Job]
    next_before: UUID | None


class JobLogs(BaseModel):
    logs: list[LogLine]


class Project(BaseModel):
    id: int
    name: Annotated[str, Field(pattern="^[a-z][a-z0-9-]{0,62}$")]
    description: str
    status: Literal["running", "stopped"]
    functions: list[str]
    environment: Annotated[
        dict[Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")], str],
        Field(max_length=1000),
    ]
    dependencies: list[str]
    secret_names: list[str]
    quotas: QuotasView
    created_at: AwareDatetime
    updated_at: AwareDatetime


class ProjectCreate(BaseModel):
    name: Annotated[str, Field(pattern="^[a-z][a-z0-9-]{0,62}$")]
    description: Annotated[str | None, Field(max_length=4096)] = ""
    environment: Annotated[
        dict[Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")], str] | None,
        Field(max_length=1000),
    ] = {}
    dependencies: Annotated[list[str] | None, Field(max_length=100)] = []
    quotas: ProjectQuotas | None = None


class ProjectList(BaseModel):
    projects: list[Project]


class QueueTrigger(BaseModel):
    id: int
    function_id: int
    name: str | None
    type: Literal["queue"]
    enabled: bool
    config: QueueTriggerConfig
    created_at: AwareDatetime
    updated_at: AwareDatetime


class TriggerList(BaseModel):
    triggers: list[
        Annotated[HttpTrigger | CronTrigger | QueueTrigger, Field(discriminator="type")]
    ]


class Version(BaseModel):
    id: int
    function_id: int
    version: Annotated[int, Field(ge=1)]
    code: str
    handler: str
    dependencies: list[str]
    build_status: Literal["building", "success", "failed"]
    build_log: str
    build_duration_ms: BuildDurationMs | None
    build_finished_at: AwareDatetime | None
    resolved_dependencies: list[str] | None
    rebuild: VersionRebuild | None
    is_active: bool
    created_at: AwareDatetime


class VersionList(BaseModel):
    versions: list[Version]


class Webhook(BaseModel):
    id: int
    url: AnyUrl
    events: list[Literal["function.created", "function.deployed", "function.failed", "function.deleted", "job.succeeded", "job.failed"]]
    secret: Literal["***"]
    project: str | None
    created_at: AwareDatetime


class WebhookCreate(BaseModel):
    url: AnyUrl
    events: Annotated[
        list[Literal["function.created", "function.deployed", "function.failed", "function.deleted", "job.succeeded", "job.failed"]],
        Field(min_length=1),
    ]
    secret: Annotated[str, Field(max_length=1024, min_length=1)]
    project: Project1 | None = None


class WebhookList(BaseModel):
    webhooks: list[Webhook]


class Error(BaseModel):
    error: ErrorObject
    request_id: str


class Function(BaseModel):
    id: int
    name: Annotated[str, Field(pattern="^[A-Za-z][A-Za-z0-9_-]{0,63}$")]
    project: str
    runtime: Literal["python", "nodejs", "go", "rust"]
    language: Literal["python", "nodejs", "go", "rust"]
    title: str
    language_title: str
    endpoint: str
    handler: str
    execution_type: Literal["sync", "async"]
    description: str
    environment: dict[str, str]
    secret_names: list[str]
    dependencies: list[str]
    timeout_ms: int
    memory_mb: int
    network: Literal["egress", "none"]
    ephemeral_storage_mb: int
    cpu_millis: int
    resources: FunctionResources
    max_concurrency: int
    min_warm: int
    cache_ttl: int
    cache_scope: Literal["caller", "shared"]
    max_retries: int
    rate_limit: str | None
    schema_: Annotated[FunctionSchemas | None, Field(alias="schema")]
    examples: list[FunctionExample]
    labels: dict[str, str]
    status: Literal["building", "ready", "failed"]
    active_version: int | None
    created_at: AwareDatetime
    updated_at: AwareDatetime
    code: str | None = None


class FunctionCreate1(BaseModel):
    name: Annotated[str, Field(pattern="^[A-Za-z][A-Za-z0-9_-]{0,63}$")]
    runtime: str
    code: str | None
    source_code: Annotated[
        str | None, Field(json_schema_extra={"contentEncoding": "base64"})
    ] = None
    handler: Annotated[
        str | None,
        Field(min_length=1, pattern="^(?:[\\s\\S]*\\.)?[A-Za-z_$][A-Za-z0-9_$]*$"),
    ] = "handler"
    dependencies: Dependencies | None = None
    triggers: Triggers | None = None
    project: Annotated[str | None, Field(pattern="^[a-z][a-z0-9-]{0,62}$")] = "default"
    execution_type: Literal["sync", "async"] | None = "sync"
    description: str | None = ""
    environment: (
        dict[
            Annotated[
                str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
            ],
            str,
        ]
        | None
    ) = {}
    secrets: (
        dict[
            Annotated[
                str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
            ],
            str,
        ]
        | None
    ) = {}
    labels: dict[str, str] | None = {}
    timeout_ms: Annotated[int | None, Field(ge=1, le=300000)] = 30000
    memory_mb: Annotated[int | None, Field(ge=16, le=2048)] = 256
    network: Literal["egress", "none"] | None = "egress"
    ephemeral_storage_mb: Annotated[int | None, Field(ge=16, le=10240)] = 512
    cpu_millis: Annotated[int | None, Field(ge=10, le=64000)] = 1000
    resources: FunctionResourcesInput | None = None
    max_concurrency: Annotated[int | None, Field(ge=1, le=1000)] = 10
    min_warm: Annotated[int | None, Field(ge=0, le=100)] = 0
    cache_ttl: Annotated[int | None, Field(ge=0, le=2592000)] = 3600
    cache_scope: Literal["caller", "shared"] | None = "caller"
    max_retries: Annotated[int | None, Field(ge=0, le=20)] = 0
    rate_limit: str | None = None
    schema_: Annotated[FunctionSchemas | None, Field(alias="schema")] = None
    examples: Annotated[list[FunctionExample] | None, Field(validate_default=True)] = []
    maxReplicas: Annotated[int | None, Field(deprecated=True, ge=1, le=1000)] = None
    minReplicas: Annotated[int | None, Field(deprecated=True, ge=0, le=100)] = None


class FunctionCreate2(BaseModel):
    name: Annotated[str, Field(pattern="^[A-Za-z][A-Za-z0-9_-]{0,63}$")]
    runtime: str
    code: str | None = None
    source_code: Annotated[
        str | None, Field(json_schema_extra={"contentEncoding": "base64"})
    ]
    handler: Annotated[
        str | None,
        Field(min_length=1, pattern="^(?:[\\s\\S]*\\.)?[A-Za-z_$][A-Za-z0-9_$]*$"),
    ] = "handler"
    dependencies: Dependencies | None = None
    triggers: Triggers | None = None
    project: Annotated[str | None, Field(pattern="^[a-z][a-z0-9-]{0,62}$")] = "default"
    execution_type: Literal["sync", "async"] | None = "sync"
    description: str | None = ""
    environment: (
        dict[
            Annotated[
                str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
            ],
            str,
        ]
        | None
    ) = {}
    secrets: (
        dict[
            Annotated[
                str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
            ],
            str,
        ]
        | None
    ) = {}
    labels: dict[str, str] | None = {}
    timeout_ms: Annotated[int | None, Field(ge=1, le=300000)] = 30000
    memory_mb: Annotated[int | None, Field(ge=16, le=2048)] = 256
    network: Literal["egress", "none"] | None = "egress"
    ephemeral_storage_mb: Annotated[int | None, Field(ge=16, le=10240)] = 512
    cpu_millis: Annotated[int | None, Field(ge=10, le=64000)] = 1000
    resources: FunctionResourcesInput | None = None
    max_concurrency: Annotated[int | None, Field(ge=1, le=1000)] = 10
    min_warm: Annotated[int | None, Field(ge=0, le=100)] = 0
    cache_ttl: Annotated[int | None, Field(ge=0, le=2592000)] = 3600
    cache_scope: Literal["caller", "shared"] | None = "caller"
    max_retries: Annotated[int | None, Field(ge=0, le=20)] = 0
    rate_limit: str | None = None
    schema_: Annotated[FunctionSchemas | None, Field(alias="schema")] = None
    examples: Annotated[list[FunctionExample] | None, Field(validate_default=True)] = []
    maxReplicas: Annotated[int | None, Field(deprecated=True, ge=1, le=1000)] = None
    minReplicas: Annotated[int | None, Field(deprecated=True, ge=0, le=100)] = None


FunctionCreate = TypeAliasType(
    "FunctionCreate",
    Annotated[
        FunctionCreate1 | FunctionCreate2, Field(title="FunctionCreate")
    ],
)


class FunctionCreated(BaseModel):
    id: int
    name: Annotated[str, Field(pattern="^[A-Za-z][A-Za-z0-9_-]{0,63}$")]
    project: str
    runtime: Literal["python", "nodejs", "go", "rust"]
    language: Literal["python", "nodejs", "go", "rust"]
    title: str
    language_title: str
    endpoint: str
    handler: str
    execution_type: Literal["sync", "async"]
    description: str
    environment: dict[str, str]
    secret_names: list[str]
    dependencies: list[str]
    timeout_ms: int
    memory_mb: int
    network: Literal["egress", "none"]
    ephemeral_storage_mb: int
    cpu_millis: int
    resources: FunctionResources
    max_concurrency: int
    min_warm: int
    cache_ttl: int
    cache_scope: Literal["caller", "shared"]
    max_retries: int
    rate_limit: str | None
    schema_: Annotated[FunctionSchemas | None, Field(alias="schema")]
    examples: list[FunctionExample]
    labels: dict[str, str]
    status: Literal["building", "ready", "failed"]
    active_version: int | None
    created_at: AwareDatetime
    updated_at: AwareDatetime
    code: str | None = None
    triggers: (
        list[
            Annotated[HttpTrigger | CronTrigger | QueueTrigger, Field(discriminator="type")]
        ]
        | None
    ) = None


class FunctionList(BaseModel):
    total: Annotated[int, Field(ge=0)]
    page: Annotated[int, Field(ge=1)]
    per_page: Annotated[int, Field(ge=1, le=100)]
    functions: list[Function]


class Health(BaseModel):
    status: Literal["ok", "degraded", "down"]
    version: str
    components: HealthComponents
    isolation: Literal["namespaces", "process"]
    sandbox: SandboxStatus


class WebhookDelivery(BaseModel):
    event: Literal["function.created", "function.deployed", "function.failed", "function.deleted", "job.succeeded", "job.failed"]
    created_at: AwareDatetime
    data: Job | Function
