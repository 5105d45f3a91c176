"""Wire models of function versions: adding one, and what a version shows.

A version body is validated with the function's runtime in the context (its
``dependencies`` follow that runtime's syntax): ``parse(VersionCreate, data,
context={"settings": s, "runtime": r})``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import MISSING, ConfigDict, Field, model_validator

from gateway.core.jsoncodec import isoformat
from gateway.core.models import VersionRecord
from gateway.schemas.base import ResponseModel, Timestamp
from gateway.schemas.function_code import Dependencies, Handler, SourceCode, SourceInput
from gateway.schemas.functions import REFUSED_FIELDS
from gateway.schemas.validation import refuse

__all__ = ["MAX_VERSION", "Version", "VersionCreate", "VersionList", "VersionRebuild",
           "version_view"]

MAX_VERSION = 999_999_999

_REFUSED = {
    "runtime": "is not a field of a version: change it with PUT /api/v1/functions/{ref}",
    "image": REFUSED_FIELDS["image"],
}


class VersionCreate(SourceInput):
    """Body of `POST /api/v1/functions/{ref}/versions`; an empty body is `{}`. Omitted fields
    keep the value of the newest version that did not fail its build (as
    `PUT /api/v1/functions/{ref}` merges), so `{}` copies it. `runtime` → 400 (change it with
    `PUT /api/v1/functions/{ref}`), `image` → 400 (custom images are not supported), and any
    other field → 400 `INVALID_REQUEST` naming it (`details.field`)."""

    model_config = ConfigDict(json_schema_extra={"not": {"required": ["code", "source_code"]}})

    code: str | None = Field(None, description="Source text.")
    source_code: SourceCode = Field(
        None, description="Base64 of UTF-8 source, instead of `code` (both → 400).")
    handler: Handler | MISSING = Field(
        MISSING, description="Entry point name; `index.handler` / `main.handler` forms accepted "
                          "(the part after the last dot is the name).")
    dependencies: Dependencies = Field(
        None, description="pip requirement specifiers (python) or npm `name@range` (nodejs), "
                          "checked against the function's runtime: names and version ranges "
                          "only; options, URLs, paths, or another runtime's syntax → 400. With "
                          "dependencies the version is `building` until its background build "
                          "ends.")
    activate: bool = Field(
        False, description="Make the new version active: at once when it needs no build, else "
                           "when its build succeeds (a failed build leaves the active version "
                           "as it is and records `build_failed`). `false`: it stays inactive, "
                           "even after its build, until `PUT …/versions/{version}/active`.")
    version: Annotated[int, Field(ge=1, le=MAX_VERSION)] | None = Field(
        None, description="Optional: the number the client expects the new version to get "
                          "(the Function Service document sends it). Versions are numbered by "
                          "the gateway (1, 2, …); when the next number is another, 409 "
                          "`CONFLICT` (`details.version`, `details.next_version`) and nothing "
                          "is added.")

    @model_validator(mode="before")
    @classmethod
    def _refused(cls, data: Any) -> Any:
        return refuse(data, _REFUSED)

    _one_source = model_validator(mode="after")(SourceInput._check_one_source)


class VersionRebuild(ResponseModel):
    """A rebuild after a project or system dependency change; null when none is pending.
    While `building`, the version keeps serving with `resolved_dependencies`; `failed`: it
    still does, `build_log` says why (a `build_failed` event was recorded)."""

    status: Literal["building", "failed"]
    dependencies: list[str] = Field(description="The layered set being built.")
    build_log: str | None
    started_at: Timestamp | None


class Version(ResponseModel):
    """One version of a function's code (`/api/v1/functions/{ref}/versions`)."""

    id: int
    function_id: int
    version: int = Field(ge=1)
    code: str
    handler: str
    dependencies: list[str]
    build_status: Literal["building", "success", "failed"]
    build_log: str = Field(description="Of the build that made the set it runs with (its first "
                                       "build or latest successful rebuild), or of its failed "
                                       "build.")
    build_duration_ms: Annotated[int, Field(ge=0)] | None = Field(
        description="How long that build took; null before any build of this version ended.")
    build_finished_at: Timestamp | None = Field(description="When that build ended; null "
                                                            "before.")
    resolved_dependencies: list[str] | None = Field(
        description="The set every run of this version installs: the system's, its project's "
                    "and its own dependencies, layered, as of its last successful build. Null "
                    "when nothing recorded it yet (no dependencies of its own while a layer "
                    "beneath has some): it then runs with the layers as they are.")
    rebuild: VersionRebuild | None
    is_active: bool
    created_at: Timestamp


class VersionList(ResponseModel):
    """A function's versions."""

    versions: list[Version] = Field(description="Newest first.")


def version_view(version: VersionRecord) -> Version:
    """The API's Version, with its pending rebuild when there is one."""
    rebuild = None
    if version.rebuild_status is not None:
        rebuild = VersionRebuild.trusted(
            status=version.rebuild_status,
            dependencies=list(version.rebuild_dependencies or []),
            build_log=version.rebuild_log, started_at=isoformat(version.rebuild_started_at))
    return Version.trusted(
        id=version.id, function_id=version.function_id, version=version.version,
        code=version.code, handler=version.handler, dependencies=list(version.dependencies),
        build_status=version.build_status,
        build_log=version.build_log, build_duration_ms=version.build_duration_ms,
        build_finished_at=isoformat(version.build_finished_at),
        resolved_dependencies=(None if version.resolved_dependencies is None
                               else list(version.resolved_dependencies)),
        rebuild=rebuild, is_active=version.is_active,
        created_at=isoformat(version.created_at))
