"""HTTP triggers: ``/fn/<path>`` runs a function synchronously and answers with its result.

The request becomes the event ``{"method", "path", "headers", "query", "body",
"isBase64Encoded"}``; a result with ``statusCode`` becomes the HTTP response
(``headers``, ``body``), anything else is sent as JSON with 200.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from gateway.api.context import services_of
from gateway.api.invocation import EXECUTE_SCOPES, run_failed
from gateway.api.operations import Endpoint, Reply, Status, operation, routes_of
from gateway.api.security import authenticate, require_execute
from gateway.core.errors import MethodNotAllowed, NotFound, RunFailed
from gateway.core.jsoncodec import dumps
from gateway.core.models import Invocation
from gateway.schemas.errors import Error
from gateway.schemas.http_calls import HttpTriggerBody, HttpTriggerOutput
from gateway.schemas.json_depth import loads_bounded

__all__ = ["HttpOutput", "build_event", "decode_body", "http_output", "render_result",
           "routes"]

_ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]

_DESCRIPTION = (
    "Runs the function of the enabled HTTP trigger whose `config.path` is the rest of the "
    "path, synchronously, with the event `{method, path, headers, query, body, "
    "isBase64Encoded}`. A result object with `statusCode` becomes the response (`headers`, "
    "`body`; a non-string body is sent as JSON), anything else is sent as JSON with 200; "
    "`X-Job-ID` is set. No such trigger (or disabled) → 404 `NOT_FOUND`; a method the "
    "trigger does not list → 405 with `Allow`. A trigger with `public: false` needs "
    "`execute:all`, `execute:<language>` or `admin`, and its event has no `authorization` "
    "header; a public one needs no token. A failed run → 500 `RUNTIME_ERROR` / 504 "
    "`TIMEOUT`; an invalid `statusCode` → 500 `RUNTIME_ERROR` (`InvalidResult`)."
)

_REPLIES: dict[Status, Reply] = {
    "default": Reply("What the function returned, with `X-Job-ID`.", HttpTriggerOutput,
                     headers=("X-Job-ID",), media_type="*/*"),
    405: Reply("`INVALID_REQUEST`: a method the trigger does not accept.", Error,
               headers=("Allow",)),
}

# A public trigger needs no token (the empty alternative), a private one an execute scope.
_SECURITY = [*({"bearerAuth": [scope]} for scope in EXECUTE_SCOPES), {}]


def decode_body(raw: bytes, content_type: str) -> tuple[Any, bool]:
    """A request body as an event carries it: JSON parsed, text as is, other bytes as
    base64 (the flag says so)."""
    if not raw:
        return None, False
    if "json" in content_type or content_type == "":
        try:
            return loads_bounded(raw), False  # nested past the bound: 400
        except orjson.JSONDecodeError:
            pass
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), True
    if "\x00" in text:
        return base64.b64encode(raw).decode("ascii"), True
    return text, False


def build_event(request: Request, raw: bytes, path: str, *, strip_auth: bool) -> dict[str, Any]:
    """The event a function receives for an HTTP trigger."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    if strip_auth:
        headers.pop("authorization", None)
    query = {k: v for k, v in request.query_params.multi_items()}  # the last value wins
    body, is_b64 = decode_body(raw, request.headers.get("content-type", "").lower())
    return {"method": request.method, "path": path, "headers": headers, "query": query,
            "body": body, "isBase64Encoded": is_b64}


@dataclass(frozen=True, slots=True)
class HttpOutput:
    """A function's result as an HTTP response: status, headers and body bytes."""

    status: int
    headers: dict[str, str]
    body: bytes


def http_output(result: Any) -> HttpOutput:
    """A ``statusCode`` result as the response it describes (``headers``; a string
    ``body`` as text, or bytes with ``isBase64Encoded``; any other body as JSON); anything
    else as JSON with 200. An invalid ``statusCode`` or base64 body is ``InvalidResult``."""
    if not isinstance(result, dict) or "statusCode" not in result:
        return HttpOutput(200, {"Content-Type": "application/json"}, dumps(result))
    status = result["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise RunFailed("the function returned an invalid statusCode", code="RUNTIME_ERROR",
                        status=500, details={"type": "InvalidResult",
                                             "message": f"statusCode {status!r}"})
    raw_headers = result.get("headers") or {}
    headers = ({str(k): str(v) for k, v in raw_headers.items()}
               if isinstance(raw_headers, dict) else {})
    typed = any(name.lower() == "content-type" for name in headers)
    body = result.get("body")
    if body is None:
        return HttpOutput(status, headers, b"")
    if isinstance(body, str):
        if result.get("isBase64Encoded") is True:
            try:
                return HttpOutput(status, headers, base64.b64decode(body, validate=True))
            except (binascii.Error, ValueError) as exc:
                raise RunFailed("the function returned a body that is not valid base64",
                                code="RUNTIME_ERROR", status=500,
                                details={"type": "InvalidResult"}) from exc
        if not typed:
            headers["Content-Type"] = "text/plain; charset=utf-8"
        return HttpOutput(status, headers, body.encode())
    if not typed:
        headers["Content-Type"] = "application/json"
    return HttpOutput(status, headers, dumps(body))


def render_result(result: Any) -> Response:
    """A ``statusCode`` result becomes the response; anything else is JSON with 200."""
    output = http_output(result)
    return Response(output.body, status_code=output.status, headers=output.headers)


async def serve(request: Request) -> Response:
    services = services_of(request)
    path = "/" + request.path_params["path"]
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/")
    trigger = await services.triggers.by_http_path(path)
    if trigger is None or not trigger.enabled:
        raise NotFound(f"no route for /fn{path}")
    methods = trigger.config.get("methods", ["GET", "POST"])
    if request.method not in methods:
        raise MethodNotAllowed(f"method {request.method} not allowed on /fn{path}",
                               headers={"Allow": ", ".join(methods)})
    public = bool(trigger.config.get("public", False))
    owner, subject = "", None
    function = await services.functions.get_by_id(trigger.function_id)
    if function is None:
        raise NotFound(f"no route for /fn{path}")
    if not public:
        principal = await authenticate(request)
        if not principal.sees(function.project):
            raise NotFound(f"no route for /fn{path}")
        require_execute(principal, function.language, function.project)
        owner, subject = principal.key, principal.subject
    event = build_event(request, await request.body(), path, strip_auth=not public)
    invoked = await services.invoker.invoke(Invocation(
        function=function, event=event, trigger="http", owner=owner, subject=subject,
    ))
    job = invoked.job
    if job.status != "success":
        raise run_failed(job)
    response = render_result(job.result)
    response.headers["X-Job-ID"] = job.id
    return response


def _declared(method: str) -> Endpoint:
    """``serve`` declared as ``method /fn/{path}`` (one operation per method)."""

    @operation(
        method, "/fn/{path:path}", operation_id=f"callHttpTrigger{method.capitalize()}",
        tag="triggers", summary=f"Call an HTTP trigger ({method})", description=_DESCRIPTION,
        scopes=EXECUTE_SCOPES, body=HttpTriggerBody, body_required=False,
        body_media_type="*/*", parameters=["fn_path"], errors=[404, 409, 429, 504],
        replies=dict(_REPLIES), extra={"security": _SECURITY},
    )
    async def call(request: Request) -> Response:
        return await serve(request)

    call.__name__ = f"call_http_trigger_{method.lower()}"
    return call


routes = routes_of(*(_declared(method) for method in _ALL_METHODS))
