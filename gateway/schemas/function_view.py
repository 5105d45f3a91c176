"""The API's Function as responses show it, and the view that builds it from a record
(routes and the webhook deliveries share it)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import MISSING, ConfigDict, Field

from executors.models import Network
from gateway.core.jsoncodec import isoformat
from gateway.core.models import FunctionRecord
from gateway.core.quantities import render_cpu, render_memory
from gateway.schemas.base import ResponseModel, Timestamp
from gateway.schemas.function_input import NAME_PATTERN, FunctionSchemas

__all__ = ["Function", "FunctionCreated", "FunctionList", "FunctionResources",
           "function_view"]

FunctionStatus = Literal["building", "ready", "failed"]
RuntimeFamily = Literal["python", "nodejs", "go", "rust"]


class FunctionResources(ResponseModel):
    """`cpu_millis` and `memory_mb` as Kubernetes quantities."""

    cpu: str = Field(examples=["1000m"], description="`<cpu_millis>m`.")
    memory: str = Field(examples=["256Mi"], description="`<memory_mb>Mi`.")


class Function(ResponseModel):
    """A function with its active version. `code` is omitted in list responses."""

    # ``code`` may be left out; every other field is always there.
    model_config = ConfigDict(json_schema_serialization_defaults_required=False)

    id: int
    # The pattern documents what names look like; it is not checked again on the way out.
    name: str = Field(json_schema_extra={"pattern": NAME_PATTERN})
    project: str
    runtime: RuntimeFamily = Field(description="Runtime family, stored normalized.")
    language: RuntimeFamily = Field(description="The runtime family (same as `runtime`).")
    title: str = Field(description="The name.")
    language_title: str = Field(examples=["nodejs-calculator"],
                                description="`<language>-<name>`.")
    endpoint: str = Field(examples=["/api/v1/functions/calculator/invoke"])
    handler: str
    execution_type: Literal["sync", "async"]
    description: str
    environment: dict[str, str] = Field(
        description="Values are shown only to `write:functions`/`admin`; other callers see "
                    "`\"***\"`.")
    secret_names: list[str] = Field(
        description="Names of the function's own secrets, sorted; values are never returned.")
    dependencies: list[str]
    timeout_ms: int
    memory_mb: int
    network: Network
    ephemeral_storage_mb: int
    cpu_millis: int = Field(description="Thousandths of a core.")
    resources: FunctionResources
    max_concurrency: int
    min_warm: int
    cache_ttl: int = Field(description="Seconds.")
    cache_scope: Literal["caller", "shared"]
    max_retries: int
    rate_limit: str | None
    json_schema: FunctionSchemas | None = Field(alias="schema")
    # As stored: the shape was checked on input (FunctionExample), and is not again here.
    examples: list[dict[str, Any]] = Field(json_schema_extra={
        "items": {"$ref": "#/components/schemas/FunctionExample"}})
    labels: dict[str, str]
    status: FunctionStatus = Field(description="Of the active version.")
    active_version: int | None
    created_at: Timestamp
    updated_at: Timestamp
    code: str | MISSING = Field(MISSING, description="Source text; omitted in list responses.")


class FunctionCreated(Function):
    """The function created, with the triggers created with it when the body had any."""

    triggers: list[dict[str, Any]] | MISSING = Field(
        MISSING, description="The body's `triggers`, created; only when it sent some.",
        json_schema_extra={"items": {"$ref": "#/components/schemas/Trigger"}})


class FunctionList(ResponseModel):
    """One page of functions."""

    total: int = Field(ge=0)
    page: int = Field(ge=1)
    per_page: int = Field(ge=1, le=100)
    functions: list[Function] = Field(description="Without `code`.")


def function_view(function: FunctionRecord, *, reveal_environment: bool,
                  include_code: bool = True) -> Function:
    """The API's Function: environment values masked unless revealed, ``code`` left out
    of lists (and of webhook deliveries)."""
    environment = (dict(function.environment) if reveal_environment
                   else dict.fromkeys(function.environment, "***"))
    return Function.trusted(
        id=function.id, name=function.name, project=function.project,
        runtime=function.runtime, language=function.language,
        title=function.name, language_title=function.language_title,
        endpoint=function.endpoint, handler=function.handler,
        execution_type=function.execution_type,
        description=function.description, environment=environment,
        secret_names=list(function.secret_names),
        dependencies=list(function.dependencies), timeout_ms=function.timeout_ms,
        memory_mb=function.memory_mb, network=function.network,
        ephemeral_storage_mb=function.ephemeral_storage_mb, cpu_millis=function.cpu_millis,
        resources=FunctionResources.trusted(cpu=render_cpu(function.cpu_millis),
                                            memory=render_memory(function.memory_mb)),
        max_concurrency=function.max_concurrency, min_warm=function.min_warm,
        cache_ttl=function.cache_ttl, cache_scope=function.cache_scope,
        max_retries=function.max_retries, rate_limit=function.rate_limit,
        json_schema=function.schema, examples=list(function.examples), labels=dict(function.labels),
        status=function.status, active_version=function.active_version,
        created_at=isoformat(function.created_at), updated_at=isoformat(function.updated_at),
        code=function.code if include_code else MISSING,
    )
