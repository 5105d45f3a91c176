"""``/api/v1/webhooks``: registering receivers of gateway events (admin)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from auth.scopes import ADMIN
from gateway.api.context import services_of
from gateway.api.responses import JSONResponse
from gateway.api.routes._body import read_json
from gateway.api.routes._methods import methods_route
from gateway.api.security import authenticate, require_scope
from gateway.core.errors import InvalidRequest, NotFound
from gateway.services.outbound import UrlRefused, check_url
from gateway.services.webhooks import EVENTS

__all__ = ["routes", "refused_url"]

MAX_SECRET_LENGTH = 1024


def refused_url(exc: UrlRefused, **where: str) -> InvalidRequest:
    """The 400 for a callback or webhook URL the gateway will not send to."""
    return InvalidRequest(str(exc), details={**where, "reason": exc.reason})


def _parse(body: Any) -> tuple[str, list[str], str]:
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    url = body.get("url")
    if not isinstance(url, str):
        raise InvalidRequest("'url' is required and must be a string", details={"field": "url"})
    events = body.get("events")
    if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
        raise InvalidRequest("'events' is required: a non-empty list of event names",
                             details={"field": "events", "allowed": list(EVENTS)})
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        raise InvalidRequest(f"unknown event '{unknown[0]}'",
                             details={"field": "events", "allowed": list(EVENTS)})
    secret = body.get("secret")
    if not isinstance(secret, str) or not 1 <= len(secret) <= MAX_SECRET_LENGTH:
        raise InvalidRequest(
            f"'secret' is required: a string of 1 to {MAX_SECRET_LENGTH} characters",
            details={"field": "secret"})
    if "\x00" in secret or "\x00" in url:
        raise InvalidRequest("the body contains a NUL character")
    return url, list(dict.fromkeys(events)), secret


async def create_webhook(request: Request) -> Response:
    principal = await authenticate(request)
    require_scope(principal, ADMIN)
    services = services_of(request)
    url, events, secret = _parse(await read_json(request))
    try:
        url = await check_url(url, allow_private=services.settings.allow_private_callbacks)
    except UrlRefused as exc:
        raise refused_url(exc, field="url") from exc
    webhook = await services.webhooks.store.create(url=url, events=events, secret=secret,
                                                   created_by=principal.subject)
    await services.webhooks.refresh()
    return JSONResponse(webhook.to_api(), status_code=201)


async def list_webhooks(request: Request) -> Response:
    principal = await authenticate(request)
    require_scope(principal, ADMIN)
    webhooks = await services_of(request).webhooks.store.list_all()
    return JSONResponse({"webhooks": [w.to_api() for w in webhooks]})


async def delete_webhook(request: Request) -> Response:
    principal = await authenticate(request)
    require_scope(principal, ADMIN)
    services = services_of(request)
    raw = request.path_params["webhook_id"]
    # Digits only and within bigint, else it cannot name a webhook.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        raise _not_found(raw)
    if not await services.webhooks.store.delete(int(raw)):
        raise _not_found(raw)
    await services.webhooks.refresh()
    return Response(status_code=204)


def _not_found(raw: str) -> NotFound:
    return NotFound(f"webhook '{raw}' does not exist")


routes = [
    methods_route("/api/v1/webhooks", {"GET": list_webhooks, "POST": create_webhook}),
    methods_route("/api/v1/webhooks/{webhook_id}", {"DELETE": delete_webhook}),
]
