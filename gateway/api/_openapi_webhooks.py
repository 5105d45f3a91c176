"""The outgoing requests of webhooks and callbacks in the OpenAPI document (package-private);
the webhook routes and their schemas are declared in :mod:`gateway.api.routes.webhooks`.

Merged into the document by :mod:`gateway.api.openapi`; built only from
:mod:`gateway.api._openapi_schemas` helpers so the two modules do not import each other.
"""

from __future__ import annotations

from typing import Any

from gateway.api._openapi_schemas import (
    json_content,
    schema_ref,
)
from gateway.schemas.webhooks import DELIVERY_RULES, URL_RULES

__all__ = ["WEBHOOK_TAG", "OUTGOING_WEBHOOKS", "CALLBACK_URL_DESCRIPTION"]

WEBHOOK_TAG = {"name": "webhooks",
               "description": "Receivers of gateway events, and how deliveries look."}

CALLBACK_URL_DESCRIPTION = (
    "When the job has finished, the gateway POSTs the Job (the body `GET "
    "/api/v1/jobs/{id}` would answer) to this URL, signed `X-Fngate-Signature: "
    "sha256=<hex HMAC-SHA256 of the body>` with `FNGATE_CALLBACK_SECRET` (see the "
    "`jobCallback` webhook of this document). Works for sync and async invokes; the "
    "response does not wait for it. At most one callback per job (a replayed "
    "`Idempotency-Key` does not add one). " + URL_RULES + " A refused URL → 400 "
    "`INVALID_REQUEST` (`details.header: \"X-Callback-URL\"`, `details.reason`) before "
    "anything runs."
)

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
        "description": "Signed with the webhook's `secret`. " + DELIVERY_RULES,
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
                       "`job.failed`. " + DELIVERY_RULES,
        "parameters": [_SIGNATURE, _EVENT, _DELIVERY],
        "requestBody": {"required": True, "content": json_content(schema_ref("Job"))},
        "responses": _RECEIVER_RESPONSES,
    }},
}
