"""What several routes look up and render the same way: a function by its reference and as
a caller sees it, a trigger with its next cron fire."""

from __future__ import annotations

import datetime as dt
from typing import Any

from auth import Principal, can_manage
from gateway.api.context import Services
from gateway.core.errors import NotFound
from gateway.core.jsoncodec import isoformat
from gateway.core.models import FunctionRecord
from gateway.schemas.function_view import Function, function_view
from gateway.store.triggers import TriggerRecord
from triggers.cron_schedule import next_run_at

__all__ = ["function_not_found", "load_function", "render_trigger", "show_function"]


def function_not_found(ref: str) -> NotFound:
    return NotFound(f"function '{ref}' does not exist", code="FUNCTION_NOT_FOUND")


async def load_function(services: Services, ref: str) -> FunctionRecord:
    function = await services.functions.get(ref)
    if function is None:
        raise function_not_found(ref)
    return function


def show_function(function: FunctionRecord, principal: Principal, *,
                  include_code: bool = True) -> Function:
    """The Function ``principal`` sees: environment values only to those who manage
    functions (``write:functions``, ``admin``)."""
    return function_view(function, reveal_environment=can_manage(principal),
                         include_code=include_code)


def render_trigger(trigger: TriggerRecord) -> dict[str, Any]:
    """The API's Trigger; cron triggers also show ``next_run_at`` (UTC)."""
    extra: dict[str, Any] = {}
    if trigger.type == "cron":
        nxt = next_run_at(trigger.config, dt.datetime.now(dt.UTC)) if trigger.enabled else None
        extra["next_run_at"] = isoformat(nxt)
    return trigger.to_api(**extra)
