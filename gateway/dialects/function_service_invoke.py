"""The Function Service's HTTP-shaped invocation: its request as the event an HTTP
trigger gives a function, the function's result as its HTTP-shaped answer, and a job as
its invocation record.

The event is fngate's HTTP-trigger event (``method``, ``path``, ``headers``, ``query``,
``body``, ``isBase64Encoded``): header names lower-case and each header and query key's
last value, the base64 ``body`` decoded as the trigger decodes a request body. A result
with ``statusCode`` — or, as the document's own example handler returns, ``status`` and
``body`` — is the response it describes (fngate's HTTP-trigger rules); anything else is a
200 with the result as a JSON body.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Literal

from pydantic import Field

from gateway.core.errors import InvalidRequest, RunFailed
from gateway.core.jsoncodec import dumps, isoformat
from gateway.core.models import Job
from gateway.schemas.base import RequestModel, ResponseModel, Timestamp
from triggers.http import decode_body, http_output

__all__ = ["FsAccepted", "FsInvocation", "FsInvocationList", "FsInvocationResult",
           "FsInvokeRequest", "FsInvokeResult", "invocation_view", "invoke_event",
           "invoke_result"]


class FsInvokeRequest(RequestModel):
    """``POST /functions/{functionId}/invoke`` and ``/invoke-async``. ``body`` is base64;
    a JSON value other than a string (as the SDK examples pass) is the body itself."""

    method: str = "POST"
    path: str = "/"
    headers: dict[str, list[str]] = Field(default_factory=dict)
    body: Any = None
    query: dict[str, list[str]] = Field(default_factory=dict)


def invoke_event(request: FsInvokeRequest) -> dict[str, Any]:
    """The HTTP-trigger event of an invocation request."""
    headers = {name.lower(): values[-1] for name, values in request.headers.items() if values}
    query = {key: values[-1] for key, values in request.query.items() if values}
    if isinstance(request.body, str):
        try:
            raw = base64.b64decode(request.body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidRequest("'body' must be base64", details={"field": "body"}) from exc
        body, is_b64 = decode_body(raw, headers.get("content-type", "").lower())
    else:
        body, is_b64 = request.body, False
    return {"method": request.method.upper(), "path": request.path, "headers": headers,
            "query": query, "body": body, "isBase64Encoded": is_b64}


class FsInvocationResult(ResponseModel):
    status_code: int
    body: str = Field(description="Base64 of the response body.")


class FsInvokeResult(FsInvocationResult):
    """The answer of a synchronous invocation."""

    headers: dict[str, list[str]]
    duration: int = Field(description="Milliseconds the run took.")
    cold_start: bool
    invocation_id: str = Field(examples=["inv-456789"])


class FsAccepted(ResponseModel):
    """The answer of an asynchronous invocation."""

    invocation_id: str


class FsInvocationError(ResponseModel):
    code: str
    message: str


class FsInvocation(ResponseModel):
    """``GET /functions/invocations/{invocationId}``."""

    invocation_id: str
    workspace_id: str
    function_id: str
    status: Literal["pending", "running", "completed", "failed"]
    started_at: Timestamp | None
    completed_at: Timestamp | None
    result: FsInvocationResult | None = Field(description="Once completed.")
    error: FsInvocationError | None = Field(description="Once failed: fngate's error.")


class FsInvocationList(ResponseModel):
    """``GET /functions/{functionId}/invocations``, newest first."""

    invocations: list[FsInvocation]


def _as_http(result: Any) -> Any:
    """The document's ``{status, body}`` result as fngate's ``{statusCode, body}``."""
    if (isinstance(result, dict) and "statusCode" not in result and "body" in result
            and isinstance(result.get("status"), int)
            and not isinstance(result.get("status"), bool)):
        return {"statusCode": result["status"],
                **{k: v for k, v in result.items() if k != "status"}}
    return result


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def invoke_result(job: Job) -> FsInvokeResult:
    """A successful sync job as the document's answer (an invalid ``statusCode`` or base64
    body is fngate's ``InvalidResult`` run failure)."""
    output = http_output(_as_http(job.result))
    return FsInvokeResult(status_code=output.status, body=_b64(output.body),
                          headers={name: [value] for name, value in output.headers.items()},
                          duration=int(round(job.duration or 0)), cold_start=job.cold_start,
                          invocation_id=f"inv-{job.id}")


_STATES: dict[str, Literal["pending", "running", "completed", "failed"]] = {
    "pending": "pending", "running": "running", "success": "completed", "failed": "failed"}


def invocation_view(job: Job, workspace: str) -> FsInvocation:
    """A job as the document's invocation record."""
    result = error = None
    if job.status == "success":
        try:
            output = http_output(_as_http(job.result))
            result = FsInvocationResult(status_code=output.status, body=_b64(output.body))
        except RunFailed:  # an invalid HTTP result: shown as the JSON it is
            result = FsInvocationResult(status_code=200, body=_b64(dumps(job.result)))
    elif job.status == "failed":
        failure = job.error or {}
        error = FsInvocationError(code=str(failure.get("code", "RUNTIME_ERROR")),
                                  message=str(failure.get("message", "")))
    return FsInvocation(
        invocation_id=f"inv-{job.id}", workspace_id=workspace,
        function_id=f"func-{job.function_id}", status=_STATES[job.status],
        started_at=isoformat(job.started_at), completed_at=isoformat(job.finished_at),
        result=result, error=error)
