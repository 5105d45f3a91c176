"""Wire models of a trigger's config, one per type (http, cron, queue).

The cron and queue configs are checked by the scheduler's and the consumer's own rules
(:func:`triggers.cron_schedule.parse_cron_config`,
:func:`triggers.queue_config.parse_queue_config`), with their messages, so what passes here
is what they run; the fields say the same for the document.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal, get_args

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator

from gateway.schemas.base import RequestModel
from gateway.schemas.validation import bad_value, bad_value_at
from triggers.cron_schedule import TriggerConfigError, parse_cron_config
from triggers.queue_config import (
    DEFAULT_PREFETCH,
    MAX_PREFETCH,
    NAME_PATTERN,
    QueueConfigError,
    parse_queue_config,
)

__all__ = ["HTTP_METHODS", "HTTP_PATH_PATTERN", "CronTriggerConfig", "HttpTriggerConfig",
           "QueueTriggerConfig"]

HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
HTTP_METHODS: tuple[str, ...] = get_args(HttpMethod)
HTTP_PATH_PATTERN = r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$"
_PATH_RE = re.compile(HTTP_PATH_PATTERN)


class HttpTriggerConfig(RequestModel):
    """An HTTP trigger's config."""

    path: str = Field(pattern=HTTP_PATH_PATTERN, examples=["/hello"],
                      description="Served at `/fn<path>`; unique across triggers (409); a "
                                  "trailing `/` is dropped; no `//`.")
    methods: list[HttpMethod] = Field(
        default=["GET", "POST"], min_length=1,
        validation_alias=AliasChoices("methods", "method"),
        description="Case-insensitive on input, stored upper-case. A single `method` string "
                    "is accepted too.",
    )
    public: bool = Field(default=False, description="True: callable without a token.")

    @model_validator(mode="before")
    @classmethod
    def _methods_over_method(cls, data: Any) -> Any:
        # `method` has always been read only when `methods` is absent (and never refused).
        if isinstance(data, dict) and "methods" in data and "method" in data:
            return {key: value for key, value in data.items() if key != "method"}
        return data

    @field_validator("path", mode="before")
    @classmethod
    def _url_path(cls, path: Any) -> Any:
        if not isinstance(path, str) or not _PATH_RE.fullmatch(path) or "//" in path:
            raise bad_value("invalid_path", "must be an absolute URL path such as '/hello'")
        return path.rstrip("/") if len(path) > 1 else path

    @field_validator("methods", mode="before")
    @classmethod
    def _method_names(cls, methods: Any) -> Any:
        if isinstance(methods, str):
            methods = [methods]
        # One message for the whole list, naming `methods` or `method` as sent.
        if not isinstance(methods, list) or not methods or not all(
            isinstance(m, str) and m.upper() in HTTP_METHODS for m in methods
        ):
            raise bad_value("invalid_methods",
                            f"must list methods among {', '.join(HTTP_METHODS)}")
        return sorted({m.upper() for m in methods}, key=HTTP_METHODS.index)


class CronTriggerConfig(RequestModel):
    """A cron trigger's config. Standard cron semantics: day-of-week 0 and 7 are Sunday,
    names (`mon-fri`) work; as in Vixie cron, a restricted day-of-month and day-of-week
    match either. Each scheduled time runs exactly once however many replicas are up."""

    schedule: str = Field(examples=["*/5 * * * *"],
                          description="A cron expression (an optional sixth leading field is "
                                      "seconds); `cron` is accepted as an alias. Invalid → "
                                      "400.")
    timezone: str = Field(default="UTC", description="An IANA name; unknown → 400.")
    payload: Any = Field(default={}, description="Part of the event of each fire.")
    misfire: Literal["run_once", "skip"] = Field(
        default="run_once",
        description="What happens to fires missed while no replica was up: `run_once` runs "
                    "the latest one, `skip` none.")

    @model_validator(mode="before")
    @classmethod
    def _schedulable(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data  # not an object: said by the model itself
        try:
            return parse_cron_config(data)
        except TriggerConfigError as exc:
            raise _refused(exc, data) from None


class QueueTriggerConfig(RequestModel):
    """A queue trigger's config. Consumed from RabbitMQ (`FNGATE_AMQP_URL`; without it →
    400) by every replica. The queue is declared durable (an existing one is used as it
    is). A message is acknowledged only after its job finished: success → ack; a failure
    with retries left (`max_retries`) → a copy waits out the backoff in
    `<queue>.fngate.retry` (its next run counted in `x-fngate-attempt`), then the message
    is acknowledged; the copy comes back to the queue as the next run, its own job. The
    last failure → copied to `<queue>.dlq` with `x-fngate-reason`, `x-fngate-attempt`,
    `x-fngate-error-code`, `x-fngate-error` and `x-fngate-job-id` headers, then
    acknowledged (a message for a deleted function too, reason `function_deleted`). A
    message with `reply_to` gets the final Job (JSON) with its `correlation_id` first. A
    message's `message_id` (with its attempt) keys its job: a redelivery finds the job
    instead of running it twice. The event: `{trigger: "queue", queue, routing_key,
    message_id, correlation_id, redelivered, headers, body}` (`body` parsed as JSON when it
    is JSON, else text, else base64 with `isBase64Encoded: true`)."""

    queue: str = Field(pattern=NAME_PATTERN, examples=["orders"],
                       description="Not `amq.*`, not ending in `.dlq` or `.fngate.retry`.")
    exchange: str = Field(default="",
                          description="When set, the queue is bound to it (declared as a "
                                      "durable topic exchange if it does not exist).")
    routing_key: str = Field(default="",
                             description="The binding key (at most 255 bytes); empty → the "
                                         "queue's name. Needs `exchange`.")
    prefetch: int = Field(default=DEFAULT_PREFETCH, ge=1, le=MAX_PREFETCH,
                          description="Unacknowledged messages per replica.")
    dead_letter: bool = Field(default=True,
                              description="False: a failed message is rejected without "
                                          "requeue (the queue's own dead-letter policy "
                                          "applies).")

    @model_validator(mode="before")
    @classmethod
    def _consumable(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data  # not an object: said by the model itself
        try:
            return parse_queue_config(data)
        except QueueConfigError as exc:
            raise _refused(exc, data) from None


def _refused(exc: TriggerConfigError | QueueConfigError, data: Any) -> ValidationError:
    """A config checker's refusal at the field it names (``config.prefetch``: the config's
    ``prefetch``; ``config``: the config itself)."""
    field = exc.field.removeprefix("config").removeprefix(".")
    # The 400 puts the field's name before the message itself.
    message = str(exc).removeprefix(f"'{exc.field}' ")
    return bad_value_at(tuple(field.split(".")) if field else (), data, "invalid_config",
                        message)
