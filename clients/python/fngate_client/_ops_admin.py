"""Calls of the operator's side: projects, their environment and dependencies, the system
layers, webhooks, and the gateway's health and capabilities."""

from __future__ import annotations

from typing import Any

from fngate_client._calls import Call, as_model, nothing, segment
from fngate_client.models import (
    Capabilities,
    DependenciesData,
    EnvironmentData,
    Health,
    Project,
    ProjectEvent,
    ProjectEvents,
    ProjectList,
    ProviderHealth,
    Ready,
    Status,
    Webhook,
    WebhookList,
)

__all__ = ["capabilities", "create_project", "create_webhook", "delete_project",
           "delete_webhook", "get_project", "get_project_dependencies", "get_project_env",
           "get_system_dependencies", "get_system_env", "health", "list_projects",
           "list_webhooks", "project_events", "provider_health", "ready",
           "set_project_dependencies", "set_project_env", "set_system_dependencies",
           "set_system_env", "start_project", "status", "stop_project", "update_project"]


def _project(name: str, tail: str = "") -> str:
    return f"/api/v1/projects/{segment(name)}" + (f"/{tail}" if tail else "")


_ENV, _DEPS = as_model(EnvironmentData, "data"), as_model(DependenciesData, "data")


def list_projects() -> Call[list[Project]]:
    """The projects the caller may see."""
    return Call("GET", "/api/v1/projects", as_model(ProjectList, "projects"))


def create_project(name: str, **fields: Any) -> Call[Project]:
    """Create a project (``description``, ``environment``, ``dependencies``, ``quotas``)."""
    return Call("POST", "/api/v1/projects", as_model(Project), json={"name": name, **fields})


def update_project(name: str, **fields: Any) -> Call[Project]:
    """Change a project's ``description`` or (the operator only) the ``quotas`` named."""
    return Call("PUT", _project(name), as_model(Project), json=fields)


def project_events(name: str, *, limit: int | None = None) -> Call[list[ProjectEvent]]:
    """The project's audit trail: its own changes and its functions', newest first."""
    return Call("GET", _project(name, "events"), as_model(ProjectEvents, "events"),
                params={"limit": limit})


def get_project(name: str) -> Call[Project]:
    """A project with its status and function names."""
    return Call("GET", _project(name), as_model(Project))


def delete_project(name: str) -> Call[None]:
    """Delete an empty project."""
    return Call("DELETE", _project(name), nothing)


def start_project(name: str) -> Call[Project]:
    """Let a stopped project's functions run again."""
    return Call("POST", _project(name, "start"), as_model(Project))


def stop_project(name: str) -> Call[Project]:
    """Stop a project: its functions answer 409, its crons skip, its consumers pause."""
    return Call("POST", _project(name, "stop"), as_model(Project))


def get_project_env(name: str) -> Call[dict[str, str]]:
    """The project's environment layer."""
    return Call("GET", _project(name, "env"), _ENV)


def set_project_env(name: str, data: dict[str, str]) -> Call[dict[str, str]]:
    """Replace the project's environment layer."""
    return Call("PUT", _project(name, "env"), _ENV, json={"data": data})


def get_project_dependencies(name: str) -> Call[list[str]]:
    """The project's dependency layer."""
    return Call("GET", _project(name, "dependencies"), _DEPS)


def set_project_dependencies(name: str, data: list[str]) -> Call[list[str]]:
    """Replace the project's dependency layer (its functions rebuild in the background)."""
    return Call("PUT", _project(name, "dependencies"), _DEPS, json={"data": data})


def get_system_env() -> Call[dict[str, str]]:
    """The system environment layer (admin)."""
    return Call("GET", "/api/v1/env/system", _ENV)


def set_system_env(data: dict[str, str]) -> Call[dict[str, str]]:
    """Replace the system environment layer (admin)."""
    return Call("PUT", "/api/v1/env/system", _ENV, json={"data": data})


def get_system_dependencies() -> Call[list[str]]:
    """The system dependency layer (admin)."""
    return Call("GET", "/api/v1/dependencies/system", _DEPS)


def set_system_dependencies(data: list[str]) -> Call[list[str]]:
    """Replace the system dependency layer (admin)."""
    return Call("PUT", "/api/v1/dependencies/system", _DEPS, json={"data": data})


def list_webhooks() -> Call[list[Webhook]]:
    """The webhooks (admin)."""
    return Call("GET", "/api/v1/webhooks", as_model(WebhookList, "webhooks"))


def create_webhook(url: str, events: list[str], secret: str, *,
                   project: str | None = None) -> Call[Webhook]:
    """Subscribe ``url`` to ``events`` (``function.created``, ``job.failed``, …), signed
    with ``secret``; with ``project``, to that project's events only."""
    body: dict[str, Any] = {"url": url, "events": events, "secret": secret}
    if project is not None:
        body["project"] = project
    return Call("POST", "/api/v1/webhooks", as_model(Webhook), json=body)


def delete_webhook(webhook_id: int) -> Call[None]:
    """Remove a webhook."""
    return Call("DELETE", f"/api/v1/webhooks/{segment(webhook_id)}", nothing)


def health() -> Call[Health]:
    """``/health``: the gateway's components."""
    return Call("GET", "/health", as_model(Health))


def ready() -> Call[Ready]:
    """``/ready``: 200 once the database answers and migrations are applied."""
    return Call("GET", "/ready", as_model(Ready))


def status() -> Call[Status]:
    """``/status``: uptime, functions, workers."""
    return Call("GET", "/status", as_model(Status))


def capabilities() -> Call[Capabilities]:
    """Runtimes, trigger types, limits and typical cold start of this gateway."""
    return Call("GET", "/api/v1/provider/capabilities", as_model(Capabilities))


def provider_health() -> Call[ProviderHealth]:
    """``healthy``, or the API's ``UNAVAILABLE`` error naming what is down."""
    return Call("GET", "/api/v1/provider/health", as_model(ProviderHealth))
