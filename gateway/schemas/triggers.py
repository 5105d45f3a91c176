"""Wire models of triggers: a create or update body (a union on ``type``: http, cron,
queue, each with its config from :mod:`gateway.schemas.trigger_configs`) and the Trigger
the API answers with.

Validators read the validation context (:func:`gateway.schemas.validation.parse`):
``settings`` (is there a broker for queue triggers) on create, ``current`` (the stored
trigger, see :class:`StoredTrigger`) on update.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Protocol, TypeVar

from pydantic import (
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
from gateway.schemas.trigger_configs import (
    CronTriggerConfig,
    HttpTriggerConfig,
    QueueTriggerConfig,
)
from gateway.schemas.validation import bad_value, bad_value_at

__all__ = [
    "CronTrigger", "CronTriggerCreate", "CronTriggerUpdate", "HttpTrigger", "HttpTriggerCreate",
    "HttpTriggerUpdate", "QueueTrigger", "QueueTriggerCreate", "QueueTriggerUpdate",
    "StoredTrigger", "Trigger", "TriggerCreate", "TriggerInput", "TriggerList", "TriggerUpdate",
]

# A body's ``type`` and the trigger type it makes (``schedule`` is an alias of ``cron``).
_KINDS = {"http": "http", "cron": "cron", "schedule": "cron", "queue": "queue"}
_TYPE_RULE = "must be one of http, cron (alias schedule), queue"

_M = TypeVar("_M")


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
            raise bad_value_at(("type",), sent, "type_changed",
                               "cannot change; delete the trigger and create another")
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

def _untagged(handler: ModelWrapValidatorHandler[_M], data: Any) -> _M:
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
                # The same error again (type, message, details), by its rendered message
                # (pydantic-core never unescapes ``{{``: the message goes as it is).
                kind = PydanticCustomError(error["type"], error["msg"], error.get("ctx"))
            errors.append(InitErrorDetails(type=kind, loc=loc, input=error["input"]))
        raise ValidationError.from_exception_data(exc.title, errors) from None
