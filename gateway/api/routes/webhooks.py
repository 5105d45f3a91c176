"""``/api/v1/webhooks``: registering receivers of gateway events (admin)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from auth.scopes import ADMIN
from gateway.api.context import services_of
from gateway.api.operations import Reply, operation, routes_of
from gateway.api.responses import JSONResponse
from gateway.api.routes._body import read_json
from gateway.api.security import authenticate, require_scope
from gateway.core.identifiers import ID_PATTERN, numeric_id
from gateway.core.jsoncodec import isoformat
from gateway.schemas.validation import parse
from gateway.schemas.webhooks import DELIVERY_RULES, Webhook, WebhookCreate, WebhookList
from gateway.services.webhooks import webhook_not_found
from gateway.store.webhooks import WebhookRecord

__all__ = ["routes", "webhook_view"]

_ADMIN_NOTE = "Needs `admin`, else 403 `FORBIDDEN` (`details.required_scope: \"admin\"`). "

_WEBHOOK_ID = {
    "name": "webhook_id", "in": "path", "required": True,
    "schema": {"type": "string", "pattern": ID_PATTERN},
    "description": "A webhook's id; anything else → 404 `NOT_FOUND`.",
}


@operation(
    "POST", "/api/v1/webhooks", operation_id="createWebhook", tag="webhooks",
    summary="Register a webhook",
    description=_ADMIN_NOTE + "Events happening from then on are delivered as "
                "`WebhookDelivery` bodies (see the `webhookDelivery` webhook of this "
                "document). " + DELIVERY_RULES,
    scopes=[ADMIN], body=WebhookCreate,
    replies={201: Reply("Registered; the secret masked.", Webhook)},
)
async def create_webhook(request: Request) -> Response:
    principal = await authenticate(request)
    require_scope(principal, ADMIN)
    body = parse(WebhookCreate, await read_json(request))
    webhook = await services_of(request).webhooks.register(body, actor=principal.subject)
    return JSONResponse(webhook_view(webhook), status_code=201)


@operation(
    "GET", "/api/v1/webhooks", operation_id="listWebhooks", tag="webhooks",
    summary="List webhooks", description=_ADMIN_NOTE + "Oldest first; secrets masked.",
    scopes=[ADMIN], replies={200: Reply("The webhooks.", WebhookList)},
)
async def list_webhooks(request: Request) -> Response:
    principal = await authenticate(request)
    require_scope(principal, ADMIN)
    webhooks = await services_of(request).webhooks.registered()
    return JSONResponse(WebhookList(webhooks=[webhook_view(w) for w in webhooks]))


@operation(
    "DELETE", "/api/v1/webhooks/{webhook_id}", operation_id="deleteWebhook", tag="webhooks",
    summary="Delete a webhook",
    description=_ADMIN_NOTE + "Its pending deliveries are dropped; one being sent at that "
                "moment may still arrive.",
    scopes=[ADMIN], parameters=[_WEBHOOK_ID], errors=[404],
    replies={204: Reply("Deleted.")},
)
async def delete_webhook(request: Request) -> Response:
    principal = await authenticate(request)
    require_scope(principal, ADMIN)
    await services_of(request).webhooks.remove(_webhook_id(request))
    return Response(status_code=204)


def webhook_view(webhook: WebhookRecord) -> Webhook:
    """The API's Webhook: everything but the secret, which is never shown."""
    return Webhook.trusted(id=webhook.id, url=webhook.url, events=list(webhook.events),
                           secret="***", created_at=isoformat(webhook.created_at))


def _webhook_id(request: Request) -> int:
    raw = request.path_params["webhook_id"]
    webhook_id = numeric_id(raw)
    if webhook_id is None:
        raise webhook_not_found(raw)
    return webhook_id


routes = routes_of(list_webhooks, create_webhook, delete_webhook)
