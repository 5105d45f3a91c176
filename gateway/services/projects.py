"""Projects and the system layer: their changes, and what each change sets in motion.

The store announces every change on ``fngate_changes``, which every replica (this one
included) hears within seconds. This replica applies its own change at once, so the
answer to the change already holds here: functions are re-read, queue consumers re-check
the project, warm workers started with the old environment end. A dependency change
instead rebuilds, in the background, the functions whose layered set changed; they keep
serving with their current builds meanwhile.
"""

from __future__ import annotations

from executors import WorkerPools
from gateway.core.errors import project_not_found
from gateway.core.identifiers import PROJECT_NAME_RE
from gateway.schemas.projects import ProjectCreate
from gateway.services.builds import BuildManager
from gateway.services.changes import Subscriber
from gateway.store.functions import FunctionStore
from gateway.store.projects import ProjectRecord, ProjectStatus, ProjectStore

__all__ = ["ProjectService"]


class ProjectService:
    """Reads and changes projects and the system environment and dependencies.

    ``changed`` is told ``("project", id, None)`` after a project's change on this replica (the
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

    async def create(self, body: ProjectCreate) -> ProjectRecord:
        """A new, running project; Conflict when the name is taken."""
        return await self._store.create(body.name, description=body.description,
                                        environment=body.environment,
                                        dependencies=body.dependencies)

    async def delete(self, name: str) -> None:
        """Remove an empty project; Conflict while it has functions, NotFound if unknown."""
        if not PROJECT_NAME_RE.fullmatch(name) or not await self._store.delete(name):
            raise project_not_found(name)
        self._functions.forget()

    async def start(self, name: str) -> ProjectRecord:
        """Let its functions run again (starting a running project changes nothing)."""
        return await self._set_status(name, "running")

    async def stop(self, name: str) -> ProjectRecord:
        """Refuse its runs, skip its cron fires, pause its consumers, end its idle workers."""
        return await self._set_status(name, "stopped")

    async def set_environment(self, name: str, environment: dict[str, str]) -> ProjectRecord:
        """Replace the project's environment whole; its warm workers end."""
        project = await self._update(name, environment=environment)
        await self._project_changed(project)
        return project

    async def set_dependencies(self, name: str, dependencies: list[str]) -> ProjectRecord:
        """Replace the project's dependencies whole; its functions are rebuilt as needed
        (the same list again retries a failed rebuild)."""
        project = await self._update(name, dependencies=dependencies)
        await self._project_changed(project, dependencies=True)
        return project

    async def set_secrets(self, name: str, secrets: dict[str, str]) -> ProjectRecord:
        """Replace the project's secrets whole (sealed at rest); its warm workers end."""
        project = await self._store.set_secrets(name, secrets) \
            if PROJECT_NAME_RE.fullmatch(name) else None
        if project is None:
            raise project_not_found(name)
        await self._project_changed(project)
        return project

    async def _set_status(self, name: str, status: ProjectStatus) -> ProjectRecord:
        project = await self._update(name, status=status)
        await self._project_changed(project)
        return project

    async def _update(self, name: str, **values: object) -> ProjectRecord:
        project = await self._store.update(name, **values) if PROJECT_NAME_RE.fullmatch(name) \
            else None
        if project is None:
            raise project_not_found(name)
        return project

    async def _project_changed(self, project: ProjectRecord, *,
                               dependencies: bool = False) -> None:
        self._functions.forget()
        self._changed("project", project.id, None)
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
