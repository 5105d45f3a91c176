"""What several routes look up and render the same way: a function by its reference and as
a caller sees it, a trigger with its next cron fire."""

from __future__ import annotations

import datetime as dt
from typing import Any

from auth import Principal, can_manage
from gateway.api.context import Services
from gateway.api.security import require_any
from gateway.core.errors import project_not_found
from gateway.core.jsoncodec import isoformat
from gateway.core.models import FunctionRecord
from gateway.schemas.base import render
from gateway.schemas.function_view import Function, function_view
from gateway.schemas.trigger_configs import (
    CronTriggerConfig,
    HttpTriggerConfig,
    QueueTriggerConfig,
)
from gateway.schemas.triggers import CronTrigger, HttpTrigger, QueueTrigger, Trigger
from gateway.store.functions import function_not_found
from gateway.store.projects import ProjectRecord
from gateway.store.triggers import TriggerRecord
from triggers.cron_schedule import next_run_at

__all__ = ["function_not_found", "load_function", "load_project", "reach_project",
           "render_trigger", "show_function", "trigger_view"]


async def load_function(services: Services, ref: str, principal: Principal | None = None,
                        *scopes: str) -> FunctionRecord:
    """The function ``ref`` names, as ``principal`` may reach it: 403 unless it holds one
    of ``scopes`` in some project (before the lookup: names cannot be probed), 404 when
    there is none or it is of a project the caller does not see, 403 unless it holds one
    of ``scopes`` in the function's project. Without a principal, nothing is checked (the
    caller checked unqualified scopes itself)."""
    if principal is not None and scopes:
        require_any(principal, scopes, somewhere=True)
    function = await services.functions.get(ref)
    if function is None or (principal is not None and not principal.sees(function.project)):
        raise function_not_found(ref)
    if principal is not None and scopes:
        require_any(principal, scopes, function.project)
    return function


async def load_project(services: Services, name: str, principal: Principal,
                       *scopes: str) -> ProjectRecord:
    """The project ``name``, as :func:`load_function` reaches a function: 403 unless the
    caller holds one of ``scopes`` somewhere, 404 (``PROJECT_NOT_FOUND``) when there is
    none or the caller does not see it, 403 unless it holds one of ``scopes`` there. No
    ``scopes``: only whether the caller sees it."""
    if scopes:
        require_any(principal, scopes, somewhere=True)
    project = await services.project_service.get(name)
    reach_project(principal, project.name, *scopes)
    return project


def reach_project(principal: Principal, name: str, *scopes: str) -> None:
    """The checks of :func:`load_project` for a project that need not exist yet (a path
    naming one, as a Function Service workspace, where a create makes it): 403 unless the
    caller holds one of ``scopes`` somewhere, 404 ``PROJECT_NOT_FOUND`` unless it sees
    ``name``, 403 unless it holds one of ``scopes`` there. No ``scopes``: only whether the
    caller sees it."""
    if scopes:
        require_any(principal, scopes, somewhere=True)
    if not principal.sees(name):
        raise project_not_found(name)
    if scopes:
        require_any(principal, scopes, name)


def show_function(function: FunctionRecord, principal: Principal, *,
                  include_code: bool = True) -> Function:
    """The Function ``principal`` sees: environment values only to those who manage
    functions of its project (``write:functions``, ``admin``)."""
    return function_view(function, reveal_environment=can_manage(principal, function.project),
                         include_code=include_code)


def trigger_view(trigger: TriggerRecord) -> Trigger:
    """The API's Trigger; a cron trigger also shows ``next_run_at`` (UTC, null while
    disabled)."""
    # Stored configs were checked on the way in: shown as they are, not checked again.
    view: HttpTrigger | CronTrigger | QueueTrigger
    if trigger.type == "http":
        view = HttpTrigger.trusted(
            id=trigger.id, function_id=trigger.function_id, name=trigger.name, type="http",
            enabled=trigger.enabled, config=HttpTriggerConfig.model_construct(**trigger.config),
            created_at=isoformat(trigger.created_at), updated_at=isoformat(trigger.updated_at))
    elif trigger.type == "cron":
        next_run = next_run_at(trigger.config, dt.datetime.now(dt.UTC)) \
            if trigger.enabled else None
        view = CronTrigger.trusted(
            id=trigger.id, function_id=trigger.function_id, name=trigger.name, type="cron",
            enabled=trigger.enabled, config=CronTriggerConfig.model_construct(**trigger.config),
            created_at=isoformat(trigger.created_at), updated_at=isoformat(trigger.updated_at),
            next_run_at=isoformat(next_run))
    else:
        view = QueueTrigger.trusted(
            id=trigger.id, function_id=trigger.function_id, name=trigger.name, type="queue",
            enabled=trigger.enabled, config=QueueTriggerConfig.model_construct(**trigger.config),
            created_at=isoformat(trigger.created_at), updated_at=isoformat(trigger.updated_at))
    return Trigger(view)


def render_trigger(trigger: TriggerRecord) -> Any:
    """:func:`trigger_view`, rendered."""
    return render(trigger_view(trigger))
