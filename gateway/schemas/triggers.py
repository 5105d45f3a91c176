"""Wire models of triggers: a create or update body (a union on ``type``: http, cron,
queue, each with its config) and the Trigger the API answers with.

The cron and queue configs are checked by the scheduler's and the consumer's own rules
(:func:`triggers.cron_schedule.parse_cron_config`, :func:`triggers.queue_config.
parse_queue_config`), so what passes here is what they run; the fields say the same for
the document. Validators read the validation context (:func:`gateway.schemas.validation.
parse`): ``settings`` (is there a broker for queue triggers) on create, ``current`` (the
stored trigger, see :class:`StoredTrigger`) on update.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Protocol, TypeVar, get_args

from pydantic import (
    AliasChoices,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    RootModel,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from gateway.schemas.base import RequestModel, ResponseModel, Timestamp
from gateway.schemas.validation import bad_value, error_at
from triggers.cron_schedule import TriggerConfigError, parse_cron_config
from triggers.queue_config import (
    DEFAULT_PREFETCH,
    MAX_PREFETCH,
    NAME_PATTERN,
    QueueConfigError,
    parse_queue_config,
)

__all__ = [
    "HTTP_METHODS", "HTTP_PATH_PATTERN", "CronTrigger", "CronTriggerConfig",
    "CronTriggerCreate", "CronTriggerUpdate", "HttpTrigger", "HttpTriggerConfig",
    "HttpTriggerCreate", "HttpTriggerUpdate", "QueueTrigger", "QueueTriggerConfig",
    "QueueTriggerCreate", "QueueTriggerUpdate", "StoredTrigger", "Trigger", "TriggerCreate",
    "TriggerInput", "TriggerList", "TriggerUpdate",
]

HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
HTTP_METHODS: tuple[str, ...] = get_args(HttpMethod)
HTTP_PATH_PATTERN = r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$"
_PATH_RE = re.compile(HTTP_PATH_PATTERN)

# A body's ``type`` and the trigger type it makes (``schedule`` is an alias of ``cron``).
_KINDS = {"http": "http", "cron": "cron", "schedule": "cron", "queue": "queue"}
_TYPE_RULE = "must be one of http, cron (alias schedule), queue"

R = TypeVar("R")


@dataclass(frozen=True, slots=True, kw_only=True)
class TriggerInput:
    """A validated trigger as stored: its type, name, enabled flag, config and (http) path."""

    type: str
    name: str | None
    enabled: bool
    config: dict[str, Any]
    http_path: str | None


class StoredTrigger(Protocol):
    """What an update merges its body over (the store's trigger record has it)."""

    @property
    def type(self) -> str: ...
    @property
    def name(self) -> str | None: ...
    @property
    def enabled(self) -> bool: ...
    @property
    def config(self) -> Mapping[str, Any]: ...


# -- configs -------------------------------------------------------------------------------

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
    is). A message is acknowledged only after its job finished: success → ack; failure
    after `max_retries` (retried in place, with backoff) → copied to `<queue>.dlq` with
    `x-fngate-error-code`, `x-fngate-error` and `x-fngate-job-id` headers, then
    acknowledged. A message with `reply_to` gets the finished Job (JSON) with its
    `correlation_id` first. A message's `message_id` keys its job: a redelivery finds the
    job instead of running it twice. The event: `{trigger: "queue", queue, routing_key,
    message_id, correlation_id, redelivered, headers, body}` (`body` parsed as JSON when it
    is JSON, else text, else base64 with `isBase64Encoded: true`)."""

    queue: str = Field(pattern=NAME_PATTERN, examples=["orders"],
                       description="Not `amq.*`, not ending in `.dlq`.")
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


# -- bodies --------------------------------------------------------------------------------

class _TriggerBody(RequestModel):
    """The fields every trigger body has; ``type`` and ``config`` are each type's own."""

    type: str
    name: str | None = Field(default=None, max_length=200)
    enabled: bool = Field(default=True,
                          description="A disabled trigger keeps its config and fires nothing.")
    config: RequestModel

    @property
    def http_path(self) -> str | None:
        """The path an HTTP trigger serves (unique across triggers); None for the others."""
        return None

    def stored(self) -> TriggerInput:
        """The trigger as the store keeps it."""
        return TriggerInput(type=self.type, name=self.name, enabled=self.enabled,
                            config=self.config.model_dump(), http_path=self.http_path)


class HttpTriggerCreate(_TriggerBody):
    """An HTTP trigger: the function answers `/fn<config.path>`, synchronously."""

    type: Literal["http"]
    config: HttpTriggerConfig

    @property
    def http_path(self) -> str | None:
        return self.config.path


class CronTriggerCreate(_TriggerBody):
    """A cron trigger: the function runs as a job at each scheduled time."""

    type: Literal["cron", "schedule"] = Field(description="`schedule` is an alias of `cron`.")
    config: CronTriggerConfig

    @field_validator("type")
    @classmethod
    def _cron(cls, kind: str) -> str:
        return "cron"


class QueueTriggerCreate(_TriggerBody):
    """A queue trigger: the function runs as a job for each message of a RabbitMQ queue."""

    type: Literal["queue"] = Field(description="Needs a broker (`FNGATE_AMQP_URL`); without "
                                               "one → 400 saying so.")
    config: QueueTriggerConfig

    @field_validator("type")
    @classmethod
    def _needs_broker(cls, kind: str, info: ValidationInfo) -> str:
        context = info.context or {}
        # An existing queue trigger can still be changed (disabled…) where no broker is set.
        settings = context.get("settings")
        if "current" not in context and not getattr(settings, "amqp_url", None):
            raise bad_value("no_broker",
                            "queue triggers need a broker: set FNGATE_AMQP_URL on the gateway")
        return kind


def _every_field_optional(schema: dict[str, Any]) -> None:
    # The update merges its body over the trigger before these validate it: an omitted
    # field keeps the trigger's value, it has no default of its own.
    schema.pop("required", None)
    for field in schema.get("properties", {}).values():
        field.pop("default", None)


_UPDATE = ConfigDict(json_schema_extra=_every_field_optional)
_SAME_TYPE = "The trigger's type, which cannot change (another → 400)."


class HttpTriggerUpdate(HttpTriggerCreate):
    """An update of an HTTP trigger."""

    model_config = _UPDATE
    type: Literal["http"] = Field(description=_SAME_TYPE)


class CronTriggerUpdate(CronTriggerCreate):
    """An update of a cron trigger."""

    model_config = _UPDATE
    type: Literal["cron", "schedule"] = Field(description=_SAME_TYPE)


class QueueTriggerUpdate(QueueTriggerCreate):
    """An update of a queue trigger (also where no broker is set: to disable it…)."""

    model_config = _UPDATE
    type: Literal["queue"] = Field(description=_SAME_TYPE)


class TriggerCreate(RootModel[Annotated[HttpTriggerCreate | CronTriggerCreate | QueueTriggerCreate,
                                        Field(discriminator="type")]]):
    """Body of `POST /api/v1/functions/{ref}/triggers`, and an item of a function create's
    `triggers`."""

    @model_validator(mode="wrap")
    @classmethod
    def _named_errors(cls, data: Any,
                      handler: ModelWrapValidatorHandler[TriggerCreate]) -> TriggerCreate:
        return _untagged(handler, data)


def _any_of(schema: dict[str, Any]) -> None:
    # `type` may be omitted, so a body can fit several alternatives: anyOf, no discriminator.
    schema["anyOf"] = schema.pop("oneOf")
    schema.pop("discriminator", None)


class TriggerUpdate(RootModel[Annotated[HttpTriggerUpdate | CronTriggerUpdate | QueueTriggerUpdate,
                                        Field(discriminator="type")]]):
    """Body of `PUT …/triggers/{trigger_id}`: merged over the trigger (`name`, `enabled`,
    `config` keep their value when omitted; a given `config` replaces the whole config).
    `type` cannot change (400)."""

    model_config = ConfigDict(json_schema_extra=_any_of)

    @model_validator(mode="before")
    @classmethod
    def _over_current(cls, data: Any, info: ValidationInfo) -> Any:
        current: StoredTrigger = (info.context or {})["current"]
        if not isinstance(data, dict):
            return data  # not an object: said by the model itself
        sent = data.get("type")
        if isinstance(sent, str) and _KINDS.get(sent, current.type) != current.type:
            raise error_at(("type",), bad_value(
                "type_changed", "cannot change; delete the trigger and create another"), sent)
        return {"type": current.type, "name": current.name, "enabled": current.enabled,
                "config": current.config, **data}

    @model_validator(mode="wrap")
    @classmethod
    def _named_errors(cls, data: Any,
                      handler: ModelWrapValidatorHandler[TriggerUpdate]) -> TriggerUpdate:
        return _untagged(handler, data)


# -- responses -----------------------------------------------------------------------------

class _TriggerView(ResponseModel):
    id: int
    function_id: int
    name: str | None
    type: str
    enabled: bool
    config: RequestModel
    created_at: Timestamp
    updated_at: Timestamp


class HttpTrigger(_TriggerView):
    """An HTTP trigger of a function."""

    type: Literal["http"]
    config: HttpTriggerConfig = Field(description="As normalized on input (defaults filled "
                                                  "in).")


class CronTrigger(_TriggerView):
    """A cron trigger of a function."""

    type: Literal["cron"]
    config: CronTriggerConfig = Field(description="As normalized on input (defaults filled "
                                                  "in).")
    next_run_at: Timestamp | None = Field(description="The next fire (UTC); null while "
                                                      "disabled.")


class QueueTrigger(_TriggerView):
    """A queue trigger of a function."""

    type: Literal["queue"]
    config: QueueTriggerConfig = Field(description="As normalized on input (defaults "
                                                   "filled in).")


class Trigger(RootModel[Annotated[HttpTrigger | CronTrigger | QueueTrigger,
                                  Field(discriminator="type")]], ResponseModel):
    """A trigger of a function; cron triggers also show `next_run_at`."""


class TriggerList(ResponseModel):
    triggers: list[Trigger]


# -- errors --------------------------------------------------------------------------------

def _refused(exc: TriggerConfigError | QueueConfigError, data: Any) -> ValidationError:
    """A config checker's refusal at the field it names (``config.prefetch``: the config's
    ``prefetch``; ``config``: the config itself)."""
    field = exc.field.removeprefix("config").removeprefix(".")
    # The 400 puts the field's name before the message itself.
    message = str(exc).removeprefix(f"'{exc.field}' ")
    return error_at(tuple(field.split(".")) if field else (),
                    bad_value("invalid_config", message), data)


def _untagged(handler: ModelWrapValidatorHandler[R], data: Any) -> R:
    """Validate through the union on ``type`` with the errors as the body names them:
    pydantic puts the tag first in their path (``http.config.path``), and an unknown or
    missing tag is the body's ``type``."""
    try:
        return handler(data)
    except ValidationError as exc:
        errors = []
        for error in exc.errors(include_url=False):
            loc = error["loc"]
            if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
                loc, kind = ("type",), bad_value("invalid_trigger_type", _TYPE_RULE)
            else:
                if loc and loc[0] in _KINDS:
                    loc = loc[1:]
                # The same error again (type, message, details), by its rendered message.
                kind = PydanticCustomError(
                    error["type"], error["msg"].replace("{", "{{").replace("}", "}}"),
                    error.get("ctx"))
            errors.append(InitErrorDetails(type=kind, loc=loc, input=error["input"]))
        raise ValidationError.from_exception_data(exc.title, errors) from None
