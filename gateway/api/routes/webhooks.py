"""``/api/v1/webhooks``: registering receivers of gateway events: the operator's (every
project's events, unqualified ``admin``) and a project's own (``admin@<project>``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from auth.scopes import ADMIN
from gateway.api.context import services_of
from gateway.api.operations import Reply, operation, routes_of
from gateway.api.responses import JSONResponse
from gateway.api.routes._body import read_json
from gateway.api.routes._lookup import load_project
from gateway.api.security import authenticate, require_scope
from gateway.core.identifiers import ID_PATTERN, numeric_id
from gateway.core.jsoncodec import isoformat
from gateway.schemas.validation import parse
from gateway.schemas.webhooks import DELIVERY_RULES, Webhook, WebhookCreate, WebhookList
from gateway.services.webhooks import webhook_not_found
from gateway.store.webhooks import WebhookRecord

__all__ = ["routes", "webhook_view"]

_ADMIN_NOTE = ("Needs `admin` somewhere, else 403 `FORBIDDEN` (`details.required_scope: "
               "\"admin\"`). A token with `admin@<project>` only reaches the webhooks of "
               "its projects: another's, or the operator's, is 404 to it. ")

_WEBHOOK_ID = {
    "name": "webhook_id", "in": "path", "required": True,
    "schema": {"type": "string", "pattern": ID_PATTERN},
    "description": "A webhook's id; anything else → 404 `NOT_FOUND`.",
}


@operation(
    "POST", "/api/v1/webhooks", operation_id="createWebhook", tag="webhooks",
    summary="Register a webhook",
    description=_ADMIN_NOTE + "A webhook with `project` needs `admin@<project>` (a project "
                "the caller does not see → 404 `PROJECT_NOT_FOUND`) and receives that "
                "project's events only; one without needs the unqualified `admin` and "
                "receives every project's. Events happening from then on are delivered as "
                "`WebhookDelivery` bodies (see the `webhookDelivery` webhook of this "
                "document). " + DELIVERY_RULES,
    scopes=[ADMIN], body=WebhookCreate, errors=[404],
    replies={201: Reply("Registered; the secret masked.", Webhook)},
)
async def create_webhook(request: Request) -> Response:
    principal = await authenticate(request)
    require_scope(principal, ADMIN, somewhere=True)
    body = parse(WebhookCreate, await read_json(request))
    services = services_of(request)
    if body.project is None:
        require_scope(principal, ADMIN)  # every project's events: the operator's
    else:
        await load_project(services, body.project, principal, ADMIN)
    webhook = await services.webhooks.register(body, actor=principal)
    return JSONResponse(webhook_view(webhook), status_code=201)


@operation(
    "GET", "/api/v1/webhooks", operation_id="listWebhooks", tag="webhooks",
    summary="List webhooks",
    description=_ADMIN_NOTE + "Oldest first; secrets masked. The operator sees every "
                "webhook; `admin@<project>` those of its projects.",
    scopes=[ADMIN], replies={200: Reply("The webhooks.", WebhookList)},
)
async def list_webhooks(request: Request) -> Response:
    principal = await authenticate(request)
    require_scope(principal, ADMIN, somewhere=True)
    webhooks = await services_of(request).webhooks.registered(
        within=principal.projects_for(ADMIN))
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
    require_scope(principal, ADMIN, somewhere=True)
    webhooks, webhook_id = services_of(request).webhooks, _webhook_id(request)
    if not principal.can(ADMIN, (await webhooks.get(webhook_id)).project):
        raise webhook_not_found(webhook_id)  # another project's, or the operator's
    await webhooks.remove(webhook_id, actor=principal)
    return Response(status_code=204)


def webhook_view(webhook: WebhookRecord) -> Webhook:
    """The API's Webhook: everything but the secret, which is never shown."""
    return Webhook.trusted(id=webhook.id, url=webhook.url, events=list(webhook.events),
                           secret="***", project=webhook.project,
                           created_at=isoformat(webhook.created_at))


def _webhook_id(request: Request) -> int:
    raw = request.path_params["webhook_id"]
    webhook_id = numeric_id(raw)
    if webhook_id is None:
        raise webhook_not_found(raw)
    return webhook_id


routes = routes_of(list_webhooks, create_webhook, delete_webhook)
