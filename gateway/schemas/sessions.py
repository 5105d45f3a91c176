"""Wire models of sessions: initializing one, running its function, and its state."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from gateway.schemas.base import RequestModel, ResponseModel, Timestamp
from gateway.schemas.function_limits import settings_of
from gateway.schemas.jobs import UuidText
from gateway.schemas.validation import bad_value

__all__ = ["DEFAULT_TIMEOUT_MS", "ExecuteRequest", "ExecuteResponse", "InitializeRequest",
           "InitializeResponse", "Session", "SessionContext"]

#: An execute's timeout when the context sets none (capped by ``FNGATE_MAX_TIMEOUT_MS``).
DEFAULT_TIMEOUT_MS = 30_000

_SESSION_ID = "The session's id."


class SessionContext(RequestModel):
    """Kept with the session and handed to the function's `context` on every execute
    (untrusted, as the client sent it), except `timeout_ms`. Other keys are kept too."""

    # The function gets what the client sent, unknown keys included.
    model_config = ConfigDict(extra="allow")

    environment: str | None = Field(None, examples=["production"],
                                    description="A free-form label; sets no variables.")
    user_id: str | None = None
    timeout_ms: int = Field(
        DEFAULT_TIMEOUT_MS, ge=1,
        description="Timeout of each execute; the function's `timeout_ms` still bounds it, "
                    "so the shorter wins. Default 30000 (or `FNGATE_MAX_TIMEOUT_MS` when "
                    "lower); not an integer between 1 and `FNGATE_MAX_TIMEOUT_MS` → 400.",
    )
    retain_session: bool = Field(True, description="False: the session closes after its "
                                                   "first execute.")

    @field_validator("timeout_ms", mode="before")
    @classmethod
    def _within_the_cap(cls, value: Any, info: ValidationInfo) -> Any:
        # One message for every refusal, naming the configured cap.
        cap = settings_of(info).max_timeout_ms
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= cap:
            raise bad_value("timeout_ms", f"must be an integer between 1 and {cap}")
        return value

    def stored(self, cap: int) -> dict[str, Any]:
        """What the session keeps: the keys the client sent, and the timeout it runs with
        (when none was sent, the default capped by ``cap``)."""
        kept = self.model_dump(exclude_unset=True)
        kept.setdefault("timeout_ms", min(DEFAULT_TIMEOUT_MS, cap))
        return kept


class InitializeRequest(RequestModel):
    """Body of `POST /api/v1/initialize`; every field optional, an empty body is `{}`.
    Other top-level fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    context: SessionContext | None = None


class InitializeResponse(ResponseModel):
    """A session, as initializing it answers."""

    request_id: UuidText = Field(description=_SESSION_ID)
    status: Literal["initialized"] = "initialized"
    expires_at: Timestamp = Field(description="Creation + the session TTL "
                                              "(`FNGATE_SESSION_TTL_S`, default 2 h).")


class ExecuteRequest(RequestModel):
    """Body of `POST /api/v1/execute/{request_id}`; an empty body is `{}`. A body that is
    not a JSON object → 400 `INVALID_REQUEST`. Other fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    # Any JSON, handed on as it is (the params check comes with the run); pydantic copies
    # the default for each body.
    params: Any = Field({},
                        description="The event the function receives (any JSON), checked "
                                    "against the function's `schema.params` → 400 "
                                    "`INVALID_PARAMS`.")


class ExecuteResponse(ResponseModel):
    """What a session's execute answers: the run's result."""

    request_id: UuidText = Field(description=_SESSION_ID)
    language_title: str = Field(examples=["nodejs-calculator"])
    execution_time: int = Field(ge=0, description="Milliseconds: the run's duration, or on a "
                                                  "cache hit the time taken to answer.")
    cached: bool = Field(description="Whether the result came from the cache.")
    result: Any = Field(description="The function's return value (any JSON).")


class Session(ResponseModel):
    """A session's state."""

    request_id: UuidText = Field(description=_SESSION_ID)
    language_title: str
    status: Literal["active", "expired", "closed"] = Field(
        description="`closed` by `DELETE` or after the one execute of a session with "
                    "`retain_session: false`; `expired` once `expires_at` has passed.")
    created_at: Timestamp
    expires_at: Timestamp
    execution_count: int = Field(ge=0)
    last_executed_at: Timestamp | None
