"""OpenAPI paths, schemas and outgoing requests of webhooks and callbacks (package-private).

Merged into the document by :mod:`gateway.api.openapi`; built only from
:mod:`gateway.api._openapi_schemas` helpers so the two modules do not import each other.
"""

from __future__ import annotations

from typing import Any

from gateway.api._openapi_schemas import (
    TIMESTAMP,
    error_refs,
    json_content,
    ok_response,
    ref,
    schema_ref,
)

__all__ = ["WEBHOOK_PATHS", "WEBHOOK_SCHEMAS", "WEBHOOK_TAG", "OUTGOING_WEBHOOKS",
           "CALLBACK_URL_DESCRIPTION"]

WEBHOOK_TAG = {"name": "webhooks",
               "description": "Receivers of gateway events, and how deliveries look."}

_EVENTS = ["function.created", "function.deployed", "function.failed", "function.deleted",
           "job.succeeded", "job.failed"]

_ADMIN = [{"bearerAuth": ["admin"]}]
_ADMIN_NOTE = ("Needs `admin`, else 403 `FORBIDDEN` (`details.required_scope: \"admin\"`). ")

_URL_RULES = (
    "http(s) only (else 400, `details.reason: \"scheme\"`; a URL that does not parse or has "
    "no host: `\"invalid\"`). Unless `FNGATE_ALLOW_PRIVATE_CALLBACKS=true`, its host must "
    "resolve (`\"unresolvable\"`) and only to public addresses: loopback, private, "
    "link-local, shared, reserved and multicast ones → 400 `\"private_address\"`. The same "
    "check runs again on every connection a delivery opens, against the address it connects "
    "to; a refused one is recorded as failed and not retried. Redirects are never followed "
    "(a 3xx is a failed attempt) and proxy settings of the environment are ignored."
)

_DELIVERY_RULES = (
    "Sent in the background from a queue in PostgreSQL (an accepted delivery survives a "
    "restart; replicas never send the same attempt twice), with a timeout "
    "(`FNGATE_WEBHOOK_TIMEOUT_S`, default 10 s). A non-2xx answer, no answer or a network "
    "error is retried with exponential backoff (`FNGATE_WEBHOOK_RETRY_BACKOFF_S`, default "
    "5 s, doubling) up to 5 times, then recorded as failed. Delivery is at least once: "
    "`X-Fngate-Delivery` is the same on every attempt of one delivery."
)

CALLBACK_URL_DESCRIPTION = (
    "When the job has finished, the gateway POSTs the Job (the body `GET "
    "/api/v1/jobs/{id}` would answer) to this URL, signed `X-Fngate-Signature: "
    "sha256=<hex HMAC-SHA256 of the body>` with `FNGATE_CALLBACK_SECRET` (see the "
    "`jobCallback` webhook of this document). Works for sync and async invokes; the "
    "response does not wait for it. At most one callback per job (a replayed "
    "`Idempotency-Key` does not add one). " + _URL_RULES + " A refused URL → 400 "
    "`INVALID_REQUEST` (`details.header: \"X-Callback-URL\"`, `details.reason`) before "
    "anything runs."
)

_WEBHOOK_ID = {
    "name": "webhook_id", "in": "path", "required": True,
    "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
    "description": "A webhook's id; anything else → 404 `NOT_FOUND`.",
}

_WEBHOOK = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "url": {"type": "string", "format": "uri"},
        "events": {"type": "array", "items": schema_ref("WebhookEvent")},
        "secret": {"type": "string", "const": "***",
                   "description": "Always masked: the secret is never returned."},
        "created_at": TIMESTAMP,
    },
    "required": ["id", "url", "events", "secret", "created_at"],
}

_WEBHOOK_CREATE = {
    "type": "object",
    "description": "Body of `POST /api/v1/webhooks`. Other fields are ignored.",
    "properties": {
        "url": {"type": "string", "format": "uri", "maxLength": 2048,
                "description": "Where deliveries are POSTed. " + _URL_RULES},
        "events": {"type": "array", "minItems": 1, "items": schema_ref("WebhookEvent"),
                   "description": "Duplicates are dropped; an unknown event → 400 "
                                  "(`details.allowed` lists the events)."},
        "secret": {"type": "string", "minLength": 1, "maxLength": 1024,
                   "description": "The HMAC-SHA256 key of `X-Fngate-Signature`. Stored; "
                                  "never returned or logged."},
    },
    "required": ["url", "events", "secret"],
}

_WEBHOOK_EVENT = {
    "type": "string", "enum": _EVENTS,
    "description": "`function.created`; `function.deployed` when a version becomes active "
                   "(version 1 on create when it needs no build, a code change on update, "
                   "a build that succeeded, a version activated with `POST …/versions` or "
                   "`PUT …/versions/{version}/active`, or a rollback); `function.failed` "
                   "when a version's build failed; `function.deleted`; `job.succeeded` / "
                   "`job.failed` when a job of any trigger finishes (after its retries).",
}

_WEBHOOK_DELIVERY = {
    "type": "object",
    "description": "The body of a webhook delivery.",
    "properties": {
        "event": schema_ref("WebhookEvent"),
        "created_at": {**TIMESTAMP, "description": "When the event happened."},
        "data": {
            "description": "`job.*`: the Job. `function.*`: the Function without `code` and "
                           "with environment values masked (`\"***\"`), plus `version` (the "
                           "version deployed or whose build failed) on `function.deployed` "
                           "and `function.failed`.",
            "oneOf": [schema_ref("Job"), schema_ref("Function")],
        },
    },
    "required": ["event", "created_at", "data"],
}

WEBHOOK_SCHEMAS: dict[str, Any] = {
    "Webhook": _WEBHOOK,
    "WebhookCreate": _WEBHOOK_CREATE,
    "WebhookEvent": _WEBHOOK_EVENT,
    "WebhookDelivery": _WEBHOOK_DELIVERY,
    "WebhookList": {
        "type": "object",
        "properties": {"webhooks": {"type": "array", "items": schema_ref("Webhook")}},
        "required": ["webhooks"],
    },
}


WEBHOOK_PATHS: dict[str, Any] = {
    "/api/v1/webhooks": {
        "parameters": [ref("parameters", "X-Request-ID")],
        "get": {
            "operationId": "listWebhooks", "tags": ["webhooks"], "summary": "List webhooks",
            "description": _ADMIN_NOTE + "Oldest first; secrets masked.",
            "security": _ADMIN,
            "responses": {"200": ok_response("The webhooks.", schema_ref("WebhookList")),
                          **error_refs("401", "403", "500")},
        },
        "post": {
            "operationId": "createWebhook", "tags": ["webhooks"],
            "summary": "Register a webhook",
            "description": _ADMIN_NOTE + "Events happening from then on are delivered "
                           "as `WebhookDelivery` bodies (see the `webhookDelivery` webhook "
                           "of this document). " + _DELIVERY_RULES,
            "security": _ADMIN,
            "requestBody": {"required": True, "content": json_content(
                schema_ref("WebhookCreate"))},
            "responses": {"201": ok_response("Registered; the secret masked.",
                                             schema_ref("Webhook")),
                          **error_refs("400", "401", "403", "413", "500")},
        },
    },
    "/api/v1/webhooks/{webhook_id}": {
        "parameters": [ref("parameters", "X-Request-ID"), _WEBHOOK_ID],
        "delete": {
            "operationId": "deleteWebhook", "tags": ["webhooks"],
            "summary": "Delete a webhook",
            "description": _ADMIN_NOTE + "Its pending deliveries are dropped; one being "
                           "sent at that moment may still arrive.",
            "security": _ADMIN,
            "responses": {"204": ok_response("Deleted.", None),
                          **error_refs("401", "403", "404", "500")},
        },
    },
}

_SIGNATURE = {
    "name": "X-Fngate-Signature", "in": "header", "required": True,
    "schema": {"type": "string", "pattern": "^sha256=[0-9a-f]{64}$"},
    "description": "`sha256=` and the hex HMAC-SHA256 of the raw body.",
}
_EVENT = {"name": "X-Fngate-Event", "in": "header", "required": True,
          "schema": schema_ref("WebhookEvent"), "description": "The event."}
_DELIVERY = {"name": "X-Fngate-Delivery", "in": "header", "required": True,
             "schema": {"type": "string", "pattern": "^[0-9]+$"},
             "description": "The delivery's id: the same on each attempt, to drop duplicates."}

_RECEIVER_RESPONSES = {
    "2XX": {"description": "Delivered."},
    "default": {"description": "Any other status, no answer within the timeout, or a network "
                               "error: retried with backoff up to 5 times. The answer's body "
                               "is not read."},
}

#: The OpenAPI 3.1 ``webhooks`` section: the requests the gateway sends.
OUTGOING_WEBHOOKS: dict[str, Any] = {
    "webhookDelivery": {"post": {
        "operationId": "webhookDelivery", "tags": ["webhooks"],
        "summary": "A delivery to a registered webhook",
        "description": "Signed with the webhook's `secret`. " + _DELIVERY_RULES,
        "parameters": [_SIGNATURE, _EVENT, _DELIVERY],
        "requestBody": {"required": True,
                        "content": json_content(schema_ref("WebhookDelivery"))},
        "responses": _RECEIVER_RESPONSES,
    }},
    "jobCallback": {"post": {
        "operationId": "jobCallback", "tags": ["webhooks"],
        "summary": "The finished job, to an invoke's X-Callback-URL",
        "description": "Signed with `FNGATE_CALLBACK_SECRET` (generated into the data "
                       "directory when not set). `X-Fngate-Event` is `job.succeeded` or "
                       "`job.failed`. " + _DELIVERY_RULES,
        "parameters": [_SIGNATURE, _EVENT, _DELIVERY],
        "requestBody": {"required": True, "content": json_content(schema_ref("Job"))},
        "responses": _RECEIVER_RESPONSES,
    }},
}
