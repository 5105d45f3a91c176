"""``GET /api/v1/functions/{ref}/events`` and ``GET /api/v1/projects/{name}/events``: the
audit trails of a function and of a project, newest first.

A deleted function's trail stays readable by its id, or by its name while no live
function has that name (its ``deleted`` event comes first).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from auth.scopes import ADMIN, READ_JOBS
from gateway.api.context import services_of
from gateway.api.operations import Reply, operation, routes_of
from gateway.api.responses import JSONResponse
from gateway.api.routes._body import query_int
from gateway.api.routes._lookup import load_project
from gateway.api.routes._observe import READ_JOBS_NOTE, require_read_jobs
from gateway.api.security import authenticate
from gateway.core.jsoncodec import isoformat
from gateway.schemas.events import Event, FunctionEvents, ProjectEvent, ProjectEvents
from gateway.store.events import EventRecord
from gateway.store.functions import function_not_found

__all__ = ["routes"]

_DESCRIPTION = READ_JOBS_NOTE + """\
The function's audit trail, newest first: `created`, `updated` (`metadata.fields`: the \
fields the update sent), `deployed` (a new version: `metadata.version`, `metadata.status`; \
or a rebuild for new project or system dependencies: `metadata.rebuild`, \
`metadata.dependencies`), `activated` (a version became active when its build succeeded), \
`rolled_back`, `build_failed` (`metadata.build_log`: its end; `metadata.rebuild` when a \
rebuild failed and the version kept serving with its previous build), `trigger_added`, \
`trigger_removed` (`metadata.trigger_id`, `trigger_type`, `trigger_name`) and `deleted`. \
Each is recorded in the transaction of its change. `actor` is the `sub` of the token that \
made the change (`actor_issuer` its `iss`), null for what the gateway did on its own (a build \
resumed after a restart, a rebuild). A deleted \
function's trail stays readable by its id, or by its name while no function has that name."""

_LIMIT = {"name": "limit", "in": "query", "required": False,
          "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
          "description": "How many of the newest events. Outside 1..1000 → 400."}


@operation(
    "GET", "/api/v1/functions/{ref}/events", operation_id="getFunctionEvents",
    tag="observability", summary="A function's audit events", description=_DESCRIPTION,
    scopes=[READ_JOBS, ADMIN], parameters=["ref", _LIMIT], errors=[400, 404],
    replies={200: Reply("The events, newest first.", FunctionEvents)},
)
async def function_events(request: Request) -> Response:
    principal = await authenticate(request)
    require_read_jobs(principal, "events", somewhere=True)
    trail = services_of(request).audit_trail
    ref = request.path_params["ref"]
    function_id, project = await trail.function_of(ref)
    # A deleted function's project is not known: its events are the operator's.
    if not (principal.sees(project) if project is not None else principal.can(READ_JOBS)):
        raise function_not_found(ref)
    require_read_jobs(principal, "events", project)
    records = await trail.events(function_id, limit=query_int(request, "limit", 100, 1, 1000))
    return JSONResponse(FunctionEvents(events=[_event_view(e) for e in records]))


_PROJECT_DESCRIPTION = """\
Needs `read:jobs@{name}` (`admin@{name}`, `read:jobs` or `admin` too), else 403 \
`FORBIDDEN`; a project the caller does not see → 404 `PROJECT_NOT_FOUND`. The project's \
audit trail, newest first: every event of its functions (as `GET \
/api/v1/functions/{ref}/events` lists them, with `function` naming the function; a move \
shows in the project it left too, `metadata.from_project`) and the changes of the project \
itself (`function` null): `project_created` (`metadata.quotas`, `environment`: the names, \
`dependencies`), `project_updated` (`metadata.fields`), `quotas_changed` \
(`metadata.previous`, `metadata.quotas`), `environment_changed` and `secrets_changed` \
(`metadata.names`: names only, never values), `dependencies_changed` \
(`metadata.dependencies`), `project_started`, `project_stopped`, `webhook_added` and \
`webhook_removed` (`metadata.webhook_id`, `events`; never the URL's credentials or the \
secret), `project_deleted`. `actor` is the token's `sub`, `actor_issuer` its `iss`."""


@operation(
    "GET", "/api/v1/projects/{name}/events", operation_id="getProjectEvents",
    tag="observability", summary="A project's audit events",
    description=_PROJECT_DESCRIPTION, scopes=[READ_JOBS, ADMIN],
    parameters=[{"name": "name", "in": "path", "required": True,
                 "schema": {"type": "string"}, "description": "The project's name."},
                _LIMIT],
    errors=[400, 404], replies={200: Reply("The events, newest first.", ProjectEvents)},
)
async def project_events(request: Request) -> Response:
    principal = await authenticate(request)
    services = services_of(request)
    project = await load_project(services, request.path_params["name"], principal, READ_JOBS)
    records = await services.audit_trail.project_events(
        project.name, limit=query_int(request, "limit", 100, 1, 1000))
    return JSONResponse(ProjectEvents(events=[_project_event_view(e) for e in records]))


def _event_view(event: EventRecord) -> Event:
    """The API's Event of a stored one."""
    return Event.trusted(id=event.id, type=event.type, description=event.description,
                         metadata=event.metadata, actor=event.actor,
                         actor_issuer=event.actor_issuer,
                         created_at=isoformat(event.created_at))


def _project_event_view(event: EventRecord) -> ProjectEvent:
    """The API's ProjectEvent of a stored one."""
    return ProjectEvent.trusted(id=event.id, type=event.type, description=event.description,
                                metadata=event.metadata, actor=event.actor,
                                actor_issuer=event.actor_issuer,
                                created_at=isoformat(event.created_at),
                                function=event.function_name)


routes = routes_of(function_events, project_events)
