"""Wire models of webhooks: registering a receiver, and what a delivery carries."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import Field, field_validator
from typing_extensions import TypeAliasType

from gateway.core.identifiers import PROJECT_NAME_PATTERN
from gateway.schemas.base import RequestModel, ResponseModel, Timestamp
from gateway.schemas.validation import bad_value

__all__ = ["DELIVERY_RULES", "EVENTS", "URL_RULES", "Webhook",
           "WebhookCreate", "WebhookDelivery", "WebhookEvent", "WebhookList"]

URL_RULES = (
    "http(s) only (else 400, `details.reason: \"scheme\"`; a URL that does not parse or has "
    "no host: `\"invalid\"`). Unless `FNGATE_ALLOW_PRIVATE_CALLBACKS=true`, its host must "
    "resolve (`\"unresolvable\"`) and only to public addresses: loopback, private, "
    "link-local, shared, reserved and multicast ones → 400 `\"private_address\"`. The same "
    "check runs again on every connection a delivery opens, against the address it connects "
    "to; a refused one is recorded as failed and not retried. Redirects are never followed "
    "(a 3xx is a failed attempt) and proxy settings of the environment are ignored."
)

DELIVERY_RULES = (
    "Sent in the background from a queue in PostgreSQL (an accepted delivery survives a "
    "restart; replicas never send the same attempt twice), with a timeout "
    "(`FNGATE_WEBHOOK_TIMEOUT_S`, default 10 s). A non-2xx answer, no answer or a network "
    "error is retried with exponential backoff (`FNGATE_WEBHOOK_RETRY_BACKOFF_S`, default "
    "5 s, doubling) up to 5 times, then recorded as failed. Delivery is at least once: "
    "`X-Fngate-Delivery` is the same on every attempt of one delivery."
)


WebhookEvent = TypeAliasType("WebhookEvent", Annotated[
    Literal["function.created", "function.deployed", "function.failed", "function.deleted",
            "job.succeeded", "job.failed"],
    Field(description=(
        "`function.created`; `function.deployed` when a version becomes active (version 1 on "
        "create when it needs no build, a code change on update, a build that succeeded, a "
        "version activated with `POST …/versions` or `PUT …/versions/{version}/active`, or a "
        "rollback); `function.failed` when a version's build failed; `function.deleted`; "
        "`job.succeeded` / `job.failed` when a job of any trigger finishes (after its "
        "retries)."
    )),
])

#: The events a webhook may subscribe to.
EVENTS: tuple[str, ...] = get_args(get_args(WebhookEvent.__value__)[0])


class WebhookCreate(RequestModel):
    """Body of `POST /api/v1/webhooks`."""

    url: str = Field(max_length=2048, json_schema_extra={"format": "uri"},
                     description="Where deliveries are POSTed. " + URL_RULES)
    events: list[WebhookEvent] = Field(
        min_length=1,
        description="Duplicates are dropped; an unknown event → 400 (`details.allowed` lists "
                    "the events).",
    )
    secret: str = Field(min_length=1, max_length=1024, repr=False,
                        description="The HMAC-SHA256 key of `X-Fngate-Signature`. Stored; "
                                    "never returned or logged.")
    project: str | None = Field(
        default=None, pattern=PROJECT_NAME_PATTERN,
        description="Deliver only this project's events (its functions' and their jobs'); "
                    "needs `admin@<project>` (or `admin`). Null or left out: every "
                    "project's, which needs the operator's unqualified `admin`.")

    @field_validator("events", mode="before")
    @classmethod
    def _known_events(cls, events: Any) -> Any:
        # Every error of this field lists the events, the empty list included.
        if not isinstance(events, list) or not events:
            raise bad_value("events", "must be a non-empty array of event names",
                            allowed=list(EVENTS))
        for event in events:
            if isinstance(event, str) and event not in EVENTS:
                raise bad_value("unknown_event", f"unknown event '{event}'",
                                allowed=list(EVENTS))
        return events

    @field_validator("events")
    @classmethod
    def _drop_duplicates(cls, events: list[str]) -> list[str]:
        return list(dict.fromkeys(events))

    @field_validator("url", "secret")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        if "\x00" in value:
            raise bad_value("nul_character", "contains a NUL character, which cannot be stored")
        return value


class Webhook(ResponseModel):
    """A registered webhook; its secret is never shown."""

    id: int
    url: str = Field(json_schema_extra={"format": "uri"})
    events: list[WebhookEvent]
    secret: Literal["***"] = Field("***",
                                   description="Always masked: the secret is never returned.")
    project: str | None = Field(description="The project whose events it receives; null: "
                                            "every project's.")
    created_at: Timestamp


class WebhookList(ResponseModel):
    webhooks: list[Webhook]


class WebhookDelivery(ResponseModel):
    """The body of a webhook delivery."""

    event: WebhookEvent
    created_at: Timestamp = Field(description="When the event happened.")
    data: dict[str, Any] = Field(
        description="`job.*`: the Job. `function.*`: the Function without `code` and with "
                    "environment values masked (`\"***\"`), plus `version` (the version "
                    "deployed or whose build failed) on `function.deployed` and "
                    "`function.failed`.",
        json_schema_extra={"oneOf": [{"$ref": "#/components/schemas/Job"},
                                     {"$ref": "#/components/schemas/Function"}]},
    )
