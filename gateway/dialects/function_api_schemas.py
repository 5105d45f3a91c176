"""Wire models of the Function API document: its envelope, its Function and Job, and the
request bodies of its function management (one model per shape the document shows)."""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import Field

from gateway.schemas.base import RequestModel, ResponseModel, Timestamp

__all__ = [
    "FunctionApiCreate", "FunctionApiDone", "FunctionApiEnvelope", "FunctionApiError",
    "FunctionApiErrorObject", "FunctionApiFunction", "FunctionApiFunctionId",
    "FunctionApiFunctionList", "FunctionApiInvocations", "FunctionApiJob",
    "FunctionApiJobList", "FunctionApiMetrics", "FunctionApiUpdate",
]

T = TypeVar("T")

ExecutionType = Literal["sync", "async"]


class FunctionApiCreate(RequestModel):
    """``POST /functions``: the document's four fields, nothing else (unknown → 400)."""

    name: str
    runtime: str = Field(description="`python` or `nodejs` (fngate's aliases accepted).")
    code: str
    execution_type: ExecutionType = "sync"


class FunctionApiUpdate(RequestModel):
    """``PUT /functions/{function_id}``: any of the four; null or absent keeps the value."""

    name: str | None = None
    runtime: str | None = None
    code: str | None = None
    execution_type: ExecutionType | None = None


class FunctionApiFunction(ResponseModel):
    """The document's ``Function``."""

    id: int
    name: str
    runtime: str
    code: str
    execution_type: ExecutionType
    created_at: Timestamp
    updated_at: Timestamp


class FunctionApiFunctionList(ResponseModel):
    functions: list[FunctionApiFunction]


class FunctionApiFunctionId(ResponseModel):
    function_id: int


class FunctionApiInvocations(ResponseModel):
    total: int
    successful: int
    failed: int


class FunctionApiMetrics(ResponseModel):
    """``GET /functions/{function_id}/metrics``: its quantities as the document's text."""

    invocations: FunctionApiInvocations
    success_rate: float = Field(description="Percent, 0..100.")
    avg_execution_time: str = Field(examples=["120ms"])
    cpu_usage: str = Field(examples=["70%"], description="CPU time over wall time of the "
                                                          "runs, percent of one core.")
    memory_usage: str = Field(examples=["256MB"], description="Highest peak RSS, MiB.")


JobStatus = Literal["pending", "running", "success", "failed"]


class FunctionApiJob(ResponseModel):
    """The document's ``Job``; ``id`` is fngate's job id (a UUID, see docs/compat.md)."""

    id: str
    function_id: int
    status: JobStatus
    result: Any
    timestamp: Timestamp
    duration: float | None = Field(description="Milliseconds; null until it ran.")


class FunctionApiJobList(ResponseModel):
    jobs: list[FunctionApiJob]


class FunctionApiEnvelope(ResponseModel, Generic[T]):
    """A success: ``{"success": true, "data": …}``."""

    success: Literal[True] = True
    data: T


class FunctionApiDone(ResponseModel):
    """A success without data (the document's "No response")."""

    success: Literal[True] = True


class FunctionApiErrorObject(ResponseModel):
    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class FunctionApiError(ResponseModel):
    """A failure: ``{"success": false, "error": {code, message, details}}``."""

    success: Literal[False] = False
    error: FunctionApiErrorObject
