"""Wire models of the project-functions document (seed 003) and the mappings between them
and fngate's records: one pydantic model per shape the document shows, each built from
what the native services return. What has no equivalent is listed in ``docs/compat.md``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from gateway.core.errors import FngateError
from gateway.core.jsoncodec import isoformat
from gateway.core.models import FunctionRecord, Job
from gateway.schemas.base import ResponseModel, Timestamp
from gateway.services.function_stats import Activity
from gateway.store.projects import ProjectRecord

__all__ = [
    "PfDeployed", "PfDeployedFunction", "PfError", "PfErrorDetails", "PfFunctionDetail",
    "PfFunctionDetailBody", "PfFunctionList", "PfFunctionSummary", "PfHealth", "PfInvoked",
    "PfLayer", "PfListLayer", "PfMessage", "PfProjectChanged", "PfProjectDetail",
    "PfProjectDetailBody", "PfProjectList", "PfProjectState", "PfProjectSummary", "PfStatus",
    "deployed_view", "duration_text", "error_code", "error_view", "function_detail",
    "function_summary", "invoked_view", "project_detail", "project_summary", "uptime_text",
]


# -- errors ----------------------------------------------------------------------------------

class PfErrorDetails(ResponseModel):
    """``details`` of the document's error: the field at fault (null when none) and why."""

    field: str | None = Field(description="The request field, parameter or header at fault.")
    reason: str


class PfError(ResponseModel):
    """The document's one error shape."""

    status: Literal["error"] = "error"
    code: str = Field(examples=["PROJECT_NOT_FOUND", "EXECUTION_ERROR", "DEPENDENCY_ERROR"])
    message: str
    details: PfErrorDetails


# fngate's codes as the document names them; a code it has no name for stays ours.
_CODES = {
    "INVALID_REQUEST": "INVALID_PARAMETERS",
    "INVALID_PARAMS": "INVALID_PARAMETERS",
    "INVALID_RUNTIME": "INVALID_PARAMETERS",
    "UNAUTHORIZED": "AUTHENTICATION_ERROR",
    "FORBIDDEN": "AUTHORIZATION_ERROR",
    "RATE_LIMITED": "RATE_LIMIT_ERROR",
    "CONCURRENCY_LIMIT": "RATE_LIMIT_ERROR",
    "RUNTIME_ERROR": "EXECUTION_ERROR",
    "TIMEOUT": "EXECUTION_ERROR",
    "BUILD_FAILED": "DEPENDENCY_ERROR",
}
# A 400 about one of these request fields has the document's more precise code.
_FIELD_CODES = {"dependencies": "DEPENDENCY_ERROR", "requirements": "DEPENDENCY_ERROR",
                "environment": "ENV_ERROR", "env_vars": "ENV_ERROR"}
_FIELD_KEYS = ("field", "parameter", "header", "required_scope")


def _field_of(details: dict[str, Any]) -> str | None:
    for key in _FIELD_KEYS:
        value = details.get(key)
        if isinstance(value, str):
            return value
    return None


def error_code(code: str, field: str | None) -> str:
    """The document's code for fngate's ``code`` about ``field``."""
    if code in ("INVALID_REQUEST", "INVALID_PARAMS") and field is not None:
        head = field.split(".", 1)[0].split("[", 1)[0]
        if head in _FIELD_CODES:
            return _FIELD_CODES[head]
    return _CODES.get(code, code)


def error_view(exc: FngateError) -> PfError:
    """The document's error of ``exc``: its code translated, ``details.field`` the field,
    parameter, header or scope it names, ``details.reason`` the run's own message for a
    failed run, else the error's message."""
    field = _field_of(exc.details)
    reason = exc.details.get("message")
    return PfError(code=error_code(exc.code, field), message=exc.message,
                   details=PfErrorDetails(field=field, reason=str(reason or exc.message)))


class PfSuccess(ResponseModel):
    """Every success answer of the document: ``status: "success"`` and its own fields."""

    status: Literal["success"] = "success"


# -- the gateway ---------------------------------------------------------------------------

class PfHealth(ResponseModel):
    """``GET /health``."""

    status: Literal["healthy", "degraded", "unhealthy"]
    version: str
    timestamp: Timestamp


class PfStatus(ResponseModel):
    """``GET /status``."""

    status: Literal["running"]
    uptime: str = Field(examples=["2h 30m"])
    active_projects: int
    total_functions: int
    memory_usage: str = Field(examples=["256MB"], description="This replica's resident memory.")


def uptime_text(seconds: int) -> str:
    """``2h 30m`` (days as hours; under a minute ``0m``)."""
    hours, minutes = divmod(max(0, seconds) // 60, 60)
    return f"{hours}h {minutes}m" if hours else f"{minutes}m"


# -- projects ------------------------------------------------------------------------------

class PfProjectState(ResponseModel):
    """The project in a start or stop answer."""

    name: str
    status: Literal["running", "stopped"]
    start_time: Timestamp | None = Field(None, description="When it last changed (start).")
    stop_time: Timestamp | None = Field(None, description="When it last changed (stop).")


class PfProjectChanged(PfSuccess):
    """``POST /api/v1/projects/{project_name}/start`` and ``/stop``."""

    message: str
    project: PfProjectState


class PfProjectSummary(ResponseModel):
    name: str
    status: Literal["running", "stopped"]
    functions: list[str]
    created_at: Timestamp
    updated_at: Timestamp


class PfProjectList(PfSuccess):
    """``GET /api/v1/projects``."""

    data: list[PfProjectSummary]


class PfFunctionSummary(ResponseModel):
    """A function in a list."""

    name: str
    description: str
    status: Literal["active", "building", "failed"]
    last_executed: Timestamp | None = Field(description="When it was last asked to run; null "
                                                        "before its first job.")


class PfProjectDetailBody(ResponseModel):
    name: str
    status: Literal["running", "stopped"]
    functions: list[PfFunctionSummary]
    env: dict[str, str] = Field(description="Values `***` unless the caller holds `admin`.")
    dependencies: list[str]
    created_at: Timestamp
    updated_at: Timestamp


class PfProjectDetail(PfSuccess):
    """``GET /api/v1/projects/{project_name}``."""

    data: PfProjectDetailBody


class PfLayer(PfSuccess):
    """An environment layer: ``GET /api/v1/env/system``, ``…/projects/{name}/env``."""

    data: dict[str, str]


class PfListLayer(PfSuccess):
    """A dependency layer: ``GET /api/v1/dependencies/system``, ``…/{name}/dependencies``."""

    data: list[str]


_STATUS = {"ready": "active", "building": "building", "failed": "failed"}


def function_summary(function: FunctionRecord, activity: Activity | None) -> PfFunctionSummary:
    return PfFunctionSummary(
        name=function.name, description=function.description,
        status=_STATUS.get(function.status, "failed"),
        last_executed=isoformat(activity.last_requested_at) if activity else None)


def project_summary(project: ProjectRecord) -> PfProjectSummary:
    return PfProjectSummary(name=project.name, status=project.status,
                            functions=list(project.functions),
                            created_at=isoformat(project.created_at),
                            updated_at=isoformat(project.updated_at))


def project_detail(project: ProjectRecord, functions: list[PfFunctionSummary],
                   env: dict[str, str]) -> PfProjectDetail:
    return PfProjectDetail(data=PfProjectDetailBody(
        name=project.name, status=project.status, functions=functions, env=env,
        dependencies=list(project.dependencies), created_at=isoformat(project.created_at),
        updated_at=isoformat(project.updated_at)))


# -- functions -----------------------------------------------------------------------------

class PfDeployedFunction(ResponseModel):
    name: str
    project: str
    status: Literal["active", "building", "failed"]
    deployed_at: Timestamp


class PfDeployed(PfSuccess):
    """``POST /api/v1/functions/{project_name}/deploy``."""

    message: str = "Function deployed successfully"
    function: PfDeployedFunction


class PfFunctionList(PfSuccess):
    """``GET /api/v1/functions/{project_name}``."""

    functions: list[PfFunctionSummary]


class PfFunctionDetailBody(ResponseModel):
    name: str
    description: str
    parameters: dict[str, str] = Field(
        description="Each property of the function's `schema.params`: its description, else "
                    "its type; empty without a schema.")
    status: Literal["active", "building", "failed"]
    created_at: Timestamp
    updated_at: Timestamp
    last_executed: Timestamp | None
    execution_count: int = Field(ge=0, description="Jobs recorded (retention applies).")


class PfFunctionDetail(PfSuccess):
    """``GET /api/v1/functions/{project_name}/{function_name}``."""

    function: PfFunctionDetailBody


class PfMessage(PfSuccess):
    """``DELETE /api/v1/functions/{project_name}/{function_name}``."""

    message: str


class PfInvoked(PfSuccess):
    """``POST /api/v1/functions/{project_name}/{function_name}/invoke``."""

    result: Any = Field(description="The function's return value, as it returned it.")
    execution_time: str = Field(examples=["0.5s"])
    timestamp: Timestamp = Field(description="When the run finished.")


def _parameters(function: FunctionRecord) -> dict[str, str]:
    params = (function.schema or {}).get("params")
    properties = params.get("properties") if isinstance(params, dict) else None
    if not isinstance(properties, dict):
        return {}
    shown: dict[str, str] = {}
    for name, spec in properties.items():
        spec = spec if isinstance(spec, dict) else {}
        text = spec.get("description") or spec.get("type") or ""
        shown[str(name)] = text if isinstance(text, str) else ",".join(map(str, text))
    return shown


def function_detail(function: FunctionRecord, activity: Activity | None) -> PfFunctionDetail:
    return PfFunctionDetail(function=PfFunctionDetailBody(
        name=function.name, description=function.description,
        parameters=_parameters(function), status=_STATUS.get(function.status, "failed"),
        created_at=isoformat(function.created_at), updated_at=isoformat(function.updated_at),
        last_executed=isoformat(activity.last_requested_at) if activity else None,
        execution_count=activity.jobs if activity else 0))


def deployed_view(function: FunctionRecord) -> PfDeployed:
    return PfDeployed(function=PfDeployedFunction(
        name=function.name, project=function.project,
        status=_STATUS.get(function.status, "failed"),
        deployed_at=isoformat(function.updated_at)))


def duration_text(ms: float | None) -> str:
    """Milliseconds as the document's seconds (``0.5s``, ``0.042s``, ``1.25s``)."""
    seconds = f"{(ms or 0) / 1000:.3f}".rstrip("0").rstrip(".")
    return f"{seconds}s"


def invoked_view(job: Job) -> PfInvoked:
    return PfInvoked(result=job.result, execution_time=duration_text(job.duration),
                     timestamp=isoformat(job.finished_at or job.timestamp))
