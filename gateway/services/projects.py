"""Projects and the system layer: their changes, and what each change sets in motion.

The store announces every change on ``fngate_changes``, which every replica (this one
included) hears within seconds. This replica applies its own change at once, so the
answer to the change already holds here: functions are re-read, queue consumers re-check
the project, warm workers started with the old environment end. A dependency change
instead rebuilds, in the background, the functions whose layered set changed; they keep
serving with their current builds meanwhile.

Every change of a project commits with its audit event (``actor``: the caller), in the
project's trail (``GET /api/v1/projects/{name}/events``); secrets by name only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, replace
from typing import Any

from executors import WorkerPools
from gateway.core.errors import project_not_found
from gateway.core.identifiers import PROJECT_NAME_RE
from gateway.core.quotas import Quotas
from gateway.schemas.projects import ProjectCreate, ProjectUpdate
from gateway.services.audit import Actor, project_event
from gateway.services.builds import BuildManager
from gateway.services.changes import Subscriber
from gateway.store.functions import FunctionStore
from gateway.store.projects import ProjectRecord, ProjectStatus, ProjectStore

__all__ = ["ProjectService"]


class ProjectService:
    """Reads and changes projects and the system environment and dependencies.

    ``changed`` is told ``("project", id)`` after a project's change on this replica (the
    queue consumers' change subscriber: they sit above this layer).
    """

    def __init__(self, *, store: ProjectStore, functions: FunctionStore, builds: BuildManager,
                 pools: WorkerPools, changed: Subscriber) -> None:
        self._store = store
        self._functions = functions
        self._builds = builds
        self._pools = pools
        self._changed = changed

    # -- projects ------------------------------------------------------------------------

    async def list_all(self) -> list[ProjectRecord]:
        """Every project, by name."""
        return await self._store.list_all()

    async def get(self, name: str) -> ProjectRecord:
        """The project; NotFound (``PROJECT_NOT_FOUND``) otherwise."""
        # A name no project can have is not looked up.
        project = await self._store.get(name) if PROJECT_NAME_RE.fullmatch(name) else None
        if project is None:
            raise project_not_found(name)
        return project

    async def create(self, body: ProjectCreate, *, actor: Actor) -> ProjectRecord:
        """A new, running project; Conflict when the name is taken."""
        quotas = Quotas(**body.quotas.model_dump())
        return await self._store.create(
            body.name, description=body.description, environment=body.environment,
            dependencies=body.dependencies, quotas=quotas,
            also=project_event(body.name, "project_created",
                               f"project '{body.name}' created", actor,
                               quotas=asdict(quotas), environment=sorted(body.environment),
                               dependencies=body.dependencies))

    async def update(self, name: str, body: ProjectUpdate, *,
                     actor: Actor) -> ProjectRecord:
        """Change the description and the quotas ``body`` names (the others kept); one
        ``project_updated`` event, and ``quotas_changed`` (before and after) when the
        quotas changed. Quotas apply from then on: what a project already has is kept."""
        current = await self.get(name)
        values: dict[str, object] = {}
        if body.description is not None:
            values["description"] = body.description
        quotas = current.quotas
        if body.quotas is not None:
            quotas = replace(quotas, **body.quotas.model_dump(include=body.quotas
                                                              .model_fields_set))
            values.update(asdict(quotas))
        sent = sorted(body.model_fields_set)
        events = [project_event(name, "project_updated",
                                f"project '{name}' updated: {', '.join(sent) or 'no fields'}",
                                actor, fields=sent)]
        if quotas != current.quotas:
            events.append(project_event(
                name, "quotas_changed", f"quotas of project '{name}' changed", actor,
                previous=asdict(current.quotas), quotas=asdict(quotas)))

        async def record(conn: Any) -> None:
            for event in events:
                await event(conn)

        project = await self._update(name, also=record, **values)
        self._functions.forget()  # a function's record carries its project's concurrency
        self._changed("project", project.id)
        return project

    async def delete(self, name: str, *, actor: Actor) -> None:
        """Remove an empty project; Conflict while it has functions, NotFound if unknown."""
        also = project_event(name, "project_deleted", f"project '{name}' deleted", actor)
        if not PROJECT_NAME_RE.fullmatch(name) or not await self._store.delete(name, also=also):
            raise project_not_found(name)
        self._functions.forget()

    async def start(self, name: str, *, actor: Actor) -> ProjectRecord:
        """Let its functions run again (starting a running project changes nothing)."""
        return await self._set_status(name, "running", actor)

    async def stop(self, name: str, *, actor: Actor) -> ProjectRecord:
        """Refuse its runs, skip its cron fires, pause its consumers, end its idle workers."""
        return await self._set_status(name, "stopped", actor)

    async def set_environment(self, name: str, environment: dict[str, str], *,
                              actor: Actor) -> ProjectRecord:
        """Replace the project's environment whole; its warm workers end. The event names
        the variables, not their values."""
        also = project_event(name, "environment_changed",
                             f"environment of project '{name}' replaced", actor,
                             names=sorted(environment))
        project = await self._update(name, also=also, environment=environment)
        await self._project_changed(project)
        return project

    async def set_dependencies(self, name: str, dependencies: list[str], *,
                               actor: Actor) -> ProjectRecord:
        """Replace the project's dependencies whole; its functions are rebuilt as needed
        (the same list again retries a failed rebuild)."""
        also = project_event(name, "dependencies_changed",
                             f"dependencies of project '{name}' replaced", actor,
                             dependencies=dependencies)
        project = await self._update(name, also=also, dependencies=dependencies)
        await self._project_changed(project, dependencies=True)
        return project

    async def set_secrets(self, name: str, secrets: dict[str, str], *,
                          actor: Actor) -> ProjectRecord:
        """Replace the project's secrets whole (sealed at rest); its warm workers end. The
        event names the secrets, never their values."""
        also = project_event(name, "secrets_changed",
                             f"secrets of project '{name}' replaced", actor,
                             names=sorted(secrets))
        project = await self._store.set_secrets(name, secrets, also=also) \
            if PROJECT_NAME_RE.fullmatch(name) else None
        if project is None:
            raise project_not_found(name)
        await self._project_changed(project)
        return project

    async def _set_status(self, name: str, status: ProjectStatus,
                          actor: Actor) -> ProjectRecord:
        verb = "started" if status == "running" else "stopped"
        also = project_event(name, "project_started" if status == "running"
                             else "project_stopped", f"project '{name}' {verb}", actor)
        project = await self._update(name, also=also, status=status)
        await self._project_changed(project)
        return project

    async def _update(self, name: str, *, also: Callable[[Any], Awaitable[Any]],
                      **values: object) -> ProjectRecord:
        project = await self._store.update(name, also=also, **values) \
            if PROJECT_NAME_RE.fullmatch(name) else None
        if project is None:
            raise project_not_found(name)
        return project

    async def _project_changed(self, project: ProjectRecord, *,
                               dependencies: bool = False) -> None:
        self._functions.forget()
        self._changed("project", project.id)
        if dependencies:
            await self._builds.rebuild_changed(project=project.name)
            return
        for function_id in await self._store.function_ids(project.name):
            await self._pools.drop_function(function_id)

    # -- the system layer ----------------------------------------------------------------

    async def system_environment(self) -> dict[str, str]:
        """The environment beneath every project's."""
        environment, _ = await self._store.system()
        return environment

    async def system_dependencies(self) -> list[str]:
        """The dependencies beneath every project's."""
        _, dependencies = await self._store.system()
        return dependencies

    async def set_system_environment(self, environment: dict[str, str]) -> dict[str, str]:
        """Replace the system environment whole and answer it; every warm worker ends."""
        await self._store.set_system(environment=environment)
        await self._system_changed()
        return environment

    async def set_system_dependencies(self, dependencies: list[str]) -> list[str]:
        """Replace the system dependencies whole and answer them; functions are rebuilt
        as needed."""
        await self._store.set_system(dependencies=dependencies)
        await self._system_changed(dependencies=True)
        return dependencies

    async def system_secret_names(self) -> list[str]:
        """Names of the secrets beneath every project's."""
        return await self._store.system_secret_names()

    async def set_system_secrets(self, secrets: dict[str, str]) -> list[str]:
        """Replace the system secrets whole (sealed at rest) and answer their names; every
        warm worker ends."""
        await self._store.set_system_secrets(secrets)
        await self._system_changed()
        return sorted(secrets)

    async def _system_changed(self, *, dependencies: bool = False) -> None:
        self._functions.forget()
        if dependencies:
            await self._builds.rebuild_changed()
            return
        for function_id in await self._store.function_ids():
            await self._pools.drop_function(function_id)
