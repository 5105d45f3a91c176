"""Wire models of function bodies: create, update and their multipart form.

A body is validated with the settings (and, on an update, the function's runtime) in the
context: ``parse(FunctionUpdate, data, context={"settings": s, "runtime": r})``. Its
:meth:`~_FunctionFields.columns` are the stored values it sets, aliases resolved.
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    MISSING,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo

from executors.models import Network
from gateway.core.identifiers import PROJECT_NAME_PATTERN
from gateway.schemas.base import RequestModel
from gateway.schemas.function_code import Dependencies, Handler, SourceCode, SourceInput
from gateway.schemas.function_input import (
    Environment,
    Examples,
    Labels,
    Name,
    NestedTriggers,
    Runtime,
    Schemas,
    parse_triggers,
)
from gateway.schemas.function_limits import (
    CpuMillis,
    CpuQuantity,
    EphemeralStorageMb,
    MaxConcurrency,
    MemoryMb,
    MemoryQuantity,
    MinWarm,
    RateLimit,
    TimeoutMs,
    settings_of,
)
from gateway.schemas.trigger_input import TriggerInput
from gateway.schemas.validation import bad_value, bad_value_at, refuse

__all__ = ["FORM_INTEGER_FIELDS", "FORM_JSON_FIELDS", "REFUSED_FIELDS", "FunctionCreate",
           "FunctionForm", "FunctionUpdate"]

_READ_ONLY = "is set by the gateway and cannot be sent"
#: Fields a client may know (from our responses or a seed document) that a body cannot
#: set, with the reason the 400 gives.
REFUSED_FIELDS = {
    "image": "is not supported: custom images are not supported; send the source as "
             "'code' or 'source_code' (and packages as 'dependencies')",
    **{key: _READ_ONLY for key in (
        "id", "language", "title", "language_title", "endpoint", "status",
        "active_version", "secret_names", "created_at", "updated_at")},
}

_NOTES = (
    " Any other field → 400 `INVALID_REQUEST` naming it (`details.field`): `image` is refused "
    "(custom images are not supported), and the fields "
    "only responses carry (`id`, `language`, `title`, `language_title`, `endpoint`, "
    "`status`, `active_version`, `secret_names`, `created_at`, `updated_at`) cannot be "
    "sent. `triggers` are accepted on create only; `timeout_ms`, `memory_mb`, "
    "`ephemeral_storage_mb` and `cpu_millis` out of range are 400s, not clamped. Every "
    "problem is listed in `details.errors`."
)


class FunctionResourcesInput(RequestModel):
    """Kubernetes-style aliases of `cpu_millis` and `memory_mb`, as in `{"cpu": "100m",
    "memory": "256Mi"}`. Given together with the field it aliases, the two must agree
    (else 400). Other keys → 400 naming them (`details.field` = `resources.<key>`)."""

    cpu: CpuQuantity | MISSING = Field(
        MISSING, description="`<n>m` millicores, or cores as a number or decimal text "
                             "(`\"0.5\"` = 500m); whole millicores only, 10m..64000m.")
    memory: MemoryQuantity | MISSING = Field(
        MISSING, description="A quantity with a unit: `Ki`, `Mi`, `Gi`, `Ti` (powers of 1024) "
                             "or `k`/`K`, `M`, `G`, `T` (powers of 1000); rounded up to whole "
                             "MiB, within `memory_mb`'s bounds.")

    @model_validator(mode="before")
    @classmethod
    def _only_cpu_and_memory(cls, data: Any) -> Any:
        for key in data if isinstance(data, dict) else ():
            if key not in ("cpu", "memory"):
                raise bad_value_at((key,), data[key], "unknown_resource",
                                   "is not a resource: only 'cpu' and 'memory' are")
        return data


class _FunctionFields(SourceInput):
    """The fields of a create or update body (an update sends any of them)."""

    # Wire names only: ``schema`` and the aliases are not accepted by attribute name.
    model_config = ConfigDict(validate_by_name=False, validate_by_alias=True)
    #: Whether omitted fields keep their value (an update) rather than take the default.
    partial: ClassVar[bool] = True

    name: Name | MISSING = MISSING
    runtime: Runtime | MISSING = MISSING
    code: str | None = Field(
        None, description="Source text. Exactly one of `code` and `source_code`.")
    source_code: SourceCode = Field(
        None, description="The source as base64 of UTF-8 text, instead of `code`.")
    handler: Handler = Field(
        "handler", description="Entry point name. `index.handler` / `main.handler` forms are "
                               "accepted: the part after the last dot is stored.")
    dependencies: Dependencies = Field(
        None, description="pip requirement specifiers (python, e.g. `six==1.16.0`) or npm "
                          "`name@range` (nodejs). Names and version ranges only: options, URLs "
                          "and paths → 400. Python packages install from wheels only and npm "
                          "packages without install scripts, so installing runs no package "
                          "code. A version with dependencies is `building` until its "
                          "background build ends; the build is cached per replica by what it "
                          "installs.")
    triggers: NestedTriggers = Field(
        None, description="Create only: triggers created in the same transaction as the "
                          "function (all or nothing: an invalid entry → 400 naming it, e.g. "
                          "`details.field` = `triggers[1].config.path`; a path in use → 409 "
                          "and no function). The 201 body then lists them under `triggers`. "
                          "On update → 400: manage them under "
                          "`/api/v1/functions/{ref}/triggers`.")
    project: Annotated[str, Field(pattern=PROJECT_NAME_PATTERN)] = Field(
        "default", description="A project that does not exist is created with the function "
                               "(running, empty environment); see the `projects` tag.")
    execution_type: Literal["sync", "async"] = Field(
        "sync", description="How `/invoke` answers by default; `?async=` and "
                            "`Prefer: respond-async` override it per request.")
    description: str = ""
    environment: Environment = Field(repr=False,
        default={}, description="Variables of the function's workers.")
    secrets: Environment = Field(
        repr=False, default={},
        description="Write-only variables of the function's workers, sealed at rest and "
                    "never returned (responses list `secret_names`). Layered after the "
                    "plain variables: system, project, then these. On update, replaces the "
                    "function's secrets whole (`{}` removes them).")
    labels: Labels = Field(default={})
    timeout_ms: TimeoutMs = Field(
        30_000, description="Over the configured cap (`FNGATE_MAX_TIMEOUT_MS`, default "
                            "300000, the `maximum` shown) → 400 `INVALID_REQUEST`; never "
                            "clamped.")
    memory_mb: MemoryMb = Field(
        256, description="Limit on the worker's resident memory; over it the worker is killed "
                          "(`OutOfMemory`). Outside 16..cap (`FNGATE_MAX_MEMORY_MB`, default "
                          "2048, the `maximum` shown) → 400 `INVALID_REQUEST`; never clamped. "
                          "Input alias `resources.memory`.")
    network: Network = Field(
        "egress", description="The worker's network. `egress`: public addresses only "
                              "(loopback, the gateway's own addresses, private, CGNAT, "
                              "link-local and multicast ranges are refused, unless the operator "
                              "allows named destinations); `none`: no network at all. Anything "
                              "else → 400 `INVALID_REQUEST`.")
    ephemeral_storage_mb: EphemeralStorageMb = Field(
        512, description="MiB: the size cap of each private writable filesystem of the sandbox "
                          "(`/tmp`, the working directory, `/dev/shm`); they are memory-backed, "
                          "so what is written there counts against `memory_mb`. Outside "
                          "16..cap (`FNGATE_MAX_EPHEMERAL_STORAGE_MB`, default 10240, the "
                          "`maximum` shown) → 400 `INVALID_REQUEST`; never clamped.")
    cpu_millis: CpuMillis = Field(
        1000, description="The worker's CPU quota in thousandths of a core (a cgroup CPU "
                          "quota; 1000 = one core). Input alias `resources.cpu`.")
    resources: FunctionResourcesInput | None = None
    max_concurrency: MaxConcurrency = Field(
        10, description="Concurrent executions on one gateway.")
    min_warm: MinWarm = Field(
        0, description="Warm workers kept when idle; must not exceed `max_concurrency` (400).")
    cache_ttl: Annotated[int, Field(ge=0, le=30 * 86400)] = Field(
        3600, description="Seconds: the result cache's TTL and the cap on "
                          "`X-Cache-Control: max-age`; 0 disables the result cache.")
    cache_scope: Literal["caller", "shared"] = Field(
        "caller", description="`caller`: cached results are reused only for the same caller "
                              "(`iss` + `sub`); `shared`: across callers.")
    max_retries: Annotated[int, Field(ge=0, le=20)] = 0
    rate_limit: RateLimit = Field(
        None, examples=["1000/minute"],
        description="A rate such as `1000/minute`, over all callers, counted on `/invoke`, "
                    "`/invoke-async`, session executes and HTTP triggers (moving window); "
                    "used up → 429 `RATE_LIMITED`. Not a rate → 400.")
    # ``schema`` would shadow BaseModel.schema.
    json_schema: Schemas = Field(None, alias="schema")
    examples: Examples = Field(default=[])
    # ``deprecated`` in the schema only: pydantic's own flag warns on every attribute read.
    max_replicas: MaxConcurrency | MISSING = Field(
        MISSING, alias="maxReplicas", description="Input alias of `max_concurrency`.",
        json_schema_extra={"deprecated": True})
    min_replicas: MinWarm | MISSING = Field(
        MISSING, alias="minReplicas", description="Input alias of `min_warm`.",
        json_schema_extra={"deprecated": True})

    _triggers: list[TriggerInput] = PrivateAttr(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _refused(cls, data: Any) -> Any:
        return refuse(data, REFUSED_FIELDS)

    @model_validator(mode="after")
    def _parse_triggers(self, info: ValidationInfo) -> Self:
        self._triggers = parse_triggers(self.triggers, settings_of(info))
        return self

    # After the triggers' check, as it always ran.
    _one_source = model_validator(mode="after")(SourceInput._check_one_source)

    @model_validator(mode="after")
    def _resolve_aliases(self) -> Self:
        """Each alias sets the field it aliases; given both, they must agree."""
        resources = self.resources or FunctionResourcesInput()
        pairs: tuple[tuple[tuple[str, ...], str, int | MISSING, str], ...] = (
            (("maxReplicas",), "max_concurrency", self.max_replicas, ""),
            (("minReplicas",), "min_warm", self.min_replicas, ""),
            (("resources", "cpu"), "cpu_millis", resources.cpu, "m"),
            (("resources", "memory"), "memory_mb", resources.memory, "Mi"),
        )
        for loc, field, value, unit in pairs:
            if value is MISSING:
                continue
            current = getattr(self, field)
            if field in self.model_fields_set and current != value:
                raise bad_value_at(loc, value, "alias", f"is {value}{unit}, which disagrees "
                                                        f"with '{field}' ({current})")
            setattr(self, field, value)
        return self

    @model_validator(mode="after")
    def _warm_within_concurrency(self) -> Self:
        # An update sending one of the two is checked against the stored other by the store.
        known = not self.partial or {"min_warm", "max_concurrency"} <= self.model_fields_set
        if known and self.min_warm > self.max_concurrency:
            raise bad_value_at(("min_warm",), self.min_warm, "min_warm",
                               "must not exceed max_concurrency")
        return self

    @property
    def nested_triggers(self) -> list[TriggerInput]:
        """The ``triggers`` sent, validated (a create's; none on an update)."""
        return self._triggers

    def columns(self) -> dict[str, Any]:
        """The stored values this body sets (every one on a create, defaults included)."""
        return self.model_dump(by_alias=True, exclude=_NOT_COLUMNS,
                               exclude_unset=self.partial)


# Fields that are not columns of ``functions``: the version's parts, the create's
# triggers, and the aliases (resolved into their columns when validated).
_NOT_COLUMNS = {"name", "code", "source_code", "handler", "dependencies", "triggers",
                "resources", "max_replicas", "min_replicas"}


class FunctionCreate(_FunctionFields):
    __doc__ = ("Body of `POST /api/v1/functions`. Required: `name`, `runtime`, and one of "
               "`code` or `source_code`; omitted fields take their defaults." + _NOTES)

    model_config = ConfigDict(json_schema_extra={
        "oneOf": [{"required": ["code"]}, {"required": ["source_code"]}]})
    partial: ClassVar[bool] = False

    name: Name
    runtime: Runtime

    @model_validator(mode="after")
    def _has_source(self) -> Self:
        if self.source is None:
            raise bad_value_at(("code",), None, "source", "is required (or 'source_code', "
                                                          "base64)")
        return self


class FunctionUpdate(_FunctionFields):
    __doc__ = ("Body of `PUT /api/v1/functions/{ref}`: every field optional, omitted fields "
               "keep their value. A change to `code`/`source_code`, `handler`, `runtime` or "
               "`dependencies` creates a new version and activates it: at once when it needs "
               "no build, else when its build succeeds (a failed build leaves the previous "
               "version active); other fields change in place. `code` and `source_code` "
               "together → 400." + _NOTES)

    model_config = ConfigDict(json_schema_extra={"not": {"required": ["code", "source_code"]}})

    @field_validator("triggers", mode="before")
    @classmethod
    def _no_triggers(cls, value: Any) -> Any:
        if value is not None:
            raise bad_value("triggers", "must be managed under /api/v1/functions/{ref}/"
                                        "triggers once the function exists")
        return value

    @property
    def changes_code(self) -> bool:
        """Whether it makes a new version (code, handler, dependencies or runtime)."""
        sent = self.model_fields_set
        return (self.source is not None or "handler" in sent or self.dependencies is not None
                or "runtime" in sent)

    def sent(self) -> set[str]:
        """What it changes, by field (an alias by the field it sets), for its audit event."""
        names = set(self.columns())
        for part, given in (("name", "name" in self.model_fields_set),
                            ("code", self.source is not None),
                            ("handler", "handler" in self.model_fields_set),
                            ("dependencies", self.dependencies is not None)):
            if given:
                names.add(part)
        return names


class FunctionForm(_FunctionFields):
    __doc__ = ("The `multipart/form-data` form of a create or update body. `code` (and "
               "`requirements`) may be uploaded files of UTF-8 text; the other fields are form "
               "fields: integers as decimal text, and `environment`, `labels`, `schema`, "
               "`examples`, `dependencies`, `triggers`, `resources` as JSON text. The same "
               "rules as the JSON body apply after decoding." + _NOTES)

    code: str | None = Field(None, json_schema_extra={"contentMediaType": "text/plain"},
                             description="The source, as an uploaded file or a text field.")
    requirements: str | None = Field(
        None, json_schema_extra={"contentMediaType": "text/plain"},
        description="A requirements file (an upload or a text field): one specifier a line, "
                    "`#` comments skipped; it becomes `dependencies` (both → 400).")


def _form_kind(field: FieldInfo) -> Literal["integer", "text", "json"]:
    """How a form sends a field: decimal text, text as is, or JSON text."""
    kinds = set(typing.get_args(field.annotation)) if typing.get_origin(field.annotation) in (
        typing.Union, types.UnionType) else {field.annotation}
    kinds = {typing.get_args(k)[0] if typing.get_origin(k) is Annotated else k
             for k in kinds} - {type(None), MISSING}
    if kinds == {int}:
        return "integer"
    if all(k is str or typing.get_origin(k) is Literal for k in kinds):
        return "text"
    return "json"


def _form_fields(kind: str) -> tuple[str, ...]:
    return tuple(field.alias or name for name, field in FunctionForm.model_fields.items()
                 if _form_kind(field) == kind)


#: Form fields sent as JSON text, and as decimal integers (the others are text as is).
FORM_JSON_FIELDS = _form_fields("json")
FORM_INTEGER_FIELDS = _form_fields("integer")
