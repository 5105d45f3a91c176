"""Wire models of the Function Service document (seed 004) and the mappings between them
and fngate's records. A workspace is an fngate project: ``workspace_id``, ``project_id``
and ``namespace`` all name it. Ids carry the document's prefixes over fngate's own
(``func-<id>``, ``ver-<version id>``, ``trg-<id>``, ``inv-<job id>``, ``evt-<id>``).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, model_validator

from gateway.core.errors import FngateError, InvalidRequest
from gateway.core.jsoncodec import isoformat
from gateway.core.models import FunctionRecord, VersionRecord
from gateway.schemas.base import RequestModel, ResponseModel, Timestamp
from gateway.schemas.validation import refuse
from gateway.store.triggers import TriggerRecord

__all__ = [
    "FsError", "FsFunction", "FsFunctionCreate", "FsFunctionList", "FsFunctionSummary",
    "FsFunctionUpdate", "FsMessage", "FsTrigger", "FsTriggerBody", "FsTriggerList",
    "FsVersion", "FsVersionCreate", "FsVersionList", "FsVersionSummary", "error_view",
    "function_view", "parse_id", "runtime_name", "summary_view", "trigger_view",
    "version_summary", "version_view",
]

#: fngate's runtime families as the document spells them.
RUNTIME_NAMES = {"python": "python3.9", "nodejs": "nodejs18", "go": "go1.21"}
#: Trigger types: the document's → fngate's (``event`` has no equivalent).
TRIGGER_TYPES = {"http": "http", "schedule": "cron", "messagequeue": "queue"}
_TRIGGER_NAMES = {native: own for own, native in TRIGGER_TYPES.items()}


def runtime_name(runtime: str) -> str:
    """``python`` → ``python3.9``, … (a runtime the document has no name for as it is)."""
    return RUNTIME_NAMES.get(runtime, runtime)


def parse_id(prefix: str, raw: str) -> int | None:
    """The number of ``<prefix>-<digits>``, or None for anything else."""
    found = re.fullmatch(rf"{prefix}-([0-9]{{1,18}})", raw)
    return int(found[1]) if found else None


# -- errors ----------------------------------------------------------------------------------

class FsError(ResponseModel):
    """The document's error shape."""

    error: str = Field(description="What went wrong, in a sentence.")
    code: str = Field(examples=["FUNCTION_NOT_FOUND", "INVALID_RUNTIME", "INVOCATION_FAILED"])
    details: dict[str, Any] = Field(description="fngate's own details of the error.")


# fngate's codes as the document names them; the rest are fngate's own.
_CODES = {"RUNTIME_ERROR": "INVOCATION_FAILED", "TIMEOUT": "INVOCATION_FAILED",
          "UNAVAILABLE": "PROVIDER_ERROR"}


def error_view(exc: FngateError) -> FsError:
    details = dict(exc.details)
    if exc.code in _CODES:
        details.setdefault("reason", exc.code)
    return FsError(error=exc.message, code=_CODES.get(exc.code, exc.code), details=details)


class FsMessage(ResponseModel):
    """``{"message": …}`` answers (activation, rollback)."""

    message: str


# -- functions -------------------------------------------------------------------------------

#: The document's ``image`` (its version example sends one) cannot be honoured: a function
#: here is its source, built and run in fngate's own sandbox. Refused by name, with why and
#: what to send instead, rather than ignored (a version "deployed" without its image).
_REFUSED = {"image": "is not supported: fngate runs a function from its source, not from a "
                     "container image (supports_custom_images is false in "
                     "/functions/provider/capabilities); send the source as 'source_code' "
                     "(base64)"}


class _FsBody(RequestModel):
    """A request body of the document: ``image`` refused before anything else."""

    @model_validator(mode="before")
    @classmethod
    def _refused(cls, data: Any) -> Any:
        return refuse(data, _REFUSED)


class FsResources(RequestModel):
    memory: str | None = None
    cpu: str | None = None


class FsFunctionCreate(_FsBody):
    """``POST /functions``; ``source_code`` is base64 of the source text."""

    name: str
    runtime: str = Field(examples=["python3.9", "nodejs18", "go1.21"])
    handler: str = Field("handler", examples=["main.handler"],
                         description="The part after the last dot names the entry point.")
    source_code: str
    environment: dict[str, str] = Field(default_factory=dict)
    resources: FsResources | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(
        default_factory=dict, description="Only `description` (fngate's function description).")

    def native(self, workspace: str) -> dict[str, Any]:
        """The native create body of this request in ``workspace``."""
        body = self.model_dump(exclude={"annotations", "resources"}, exclude_unset=True)
        return {**body, **_common(self.annotations, self.resources), "project": workspace}


class FsFunctionUpdate(_FsBody):
    """``PUT /functions/{functionId}``: every field optional."""

    name: str | None = None
    runtime: str | None = None
    handler: str | None = None
    source_code: str | None = None
    environment: dict[str, str] | None = None
    resources: FsResources | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None

    def native(self) -> dict[str, Any]:
        body = self.model_dump(exclude={"annotations", "resources"}, exclude_none=True)
        return {**body, **_common(self.annotations, self.resources)}


def _common(annotations: dict[str, str] | None,
            resources: FsResources | None) -> dict[str, Any]:
    """The annotations and resources of a body as native fields (other annotations → 400
    from the native model, named)."""
    body: dict[str, Any] = {}
    for key, value in (annotations or {}).items():
        body["description" if key == "description" else f"annotations.{key}"] = value
    if resources is not None:
        body["resources"] = resources.model_dump(exclude_none=True)
    return body


class FsFunctionSummary(ResponseModel):
    id: str = Field(examples=["func-123456"])
    name: str
    runtime: str
    status: Literal["ready", "building", "failed"]
    active_version: str | None = Field(examples=["v1"])
    created_at: Timestamp


class FsFunctionList(ResponseModel):
    """``GET /functions``."""

    functions: list[FsFunctionSummary]


class FsFunction(ResponseModel):
    """A function (create, get, update)."""

    id: str
    workspace_id: str
    project_id: str
    name: str
    namespace: str
    runtime: str
    handler: str = Field(description="The entry point name as stored (after the last dot).")
    status: Literal["ready", "building", "failed"]
    active_version: str | None
    labels: dict[str, str]
    annotations: dict[str, str]
    created_at: Timestamp
    updated_at: Timestamp


def _version(number: int | None) -> str | None:
    return None if number is None else f"v{number}"


def _status(function: FunctionRecord) -> Any:
    return function.status if function.status in ("ready", "building") else "failed"


def summary_view(function: FunctionRecord) -> FsFunctionSummary:
    return FsFunctionSummary(id=f"func-{function.id}", name=function.name,
                             runtime=runtime_name(function.runtime), status=_status(function),
                             active_version=_version(function.active_version),
                             created_at=isoformat(function.created_at))


def function_view(function: FunctionRecord) -> FsFunction:
    return FsFunction(
        id=f"func-{function.id}", workspace_id=function.project, project_id=function.project,
        name=function.name, namespace=function.project, runtime=runtime_name(function.runtime),
        handler=function.handler, status=_status(function),
        active_version=_version(function.active_version), labels=dict(function.labels),
        annotations={"description": function.description} if function.description else {},
        created_at=isoformat(function.created_at), updated_at=isoformat(function.updated_at))


# -- versions --------------------------------------------------------------------------------

class FsVersionCreate(_FsBody):
    """``POST /functions/{functionId}/versions``."""

    version: int | None = Field(None, description="The number expected (the next one).")
    source_code: str | None = None
    handler: str | None = None

    def native(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class FsVersionSummary(ResponseModel):
    id: str = Field(examples=["ver-789"])
    version: int
    build_status: Literal["building", "success", "failed"]
    created_at: Timestamp
    is_active: bool


class FsVersion(FsVersionSummary):
    """A version just deployed."""

    workspace_id: str
    function_id: str
    function_name: str


class FsVersionList(ResponseModel):
    versions: list[FsVersionSummary] = Field(description="Newest first.")


def version_summary(version: VersionRecord) -> FsVersionSummary:
    return FsVersionSummary(id=f"ver-{version.id}", version=version.version,
                            build_status=version.build_status,
                            created_at=isoformat(version.created_at),
                            is_active=version.is_active)


def version_view(version: VersionRecord, function: FunctionRecord) -> FsVersion:
    return FsVersion(**dict(version_summary(version)), workspace_id=function.project,
                     function_id=f"func-{function.id}", function_name=function.name)


# -- triggers --------------------------------------------------------------------------------

class FsTriggerBody(RequestModel):
    """``POST`` / ``PUT …/triggers``: ``type`` is ``http``, ``schedule`` or
    ``messagequeue``; ``config`` as fngate's trigger config of that type (``method``,
    ``cron`` accepted as in the document)."""

    name: str | None = None
    type: str | None = None
    enabled: bool | None = None
    config: dict[str, Any] | None = None

    def native(self) -> dict[str, Any]:
        body = self.model_dump(exclude_none=True)
        if self.type == "event":
            raise InvalidRequest("trigger type 'event' is not supported here: use http, "
                                 "schedule or messagequeue", details={"field": "type"})
        if self.type is not None:
            body["type"] = TRIGGER_TYPES.get(self.type, self.type)
        return body


class FsTrigger(ResponseModel):
    id: str = Field(examples=["trg-123"])
    workspace_id: str
    function_id: str
    name: str | None
    type: str = Field(examples=["http", "schedule", "messagequeue"])
    enabled: bool
    config: dict[str, Any] = Field(description="fngate's config, with the document's `method` "
                                               "(one method) and `cron` beside it.")
    created_at: Timestamp


class FsTriggerList(ResponseModel):
    triggers: list[FsTrigger]


def trigger_view(trigger: TriggerRecord, function: FunctionRecord) -> FsTrigger:
    config = dict(trigger.config)
    if trigger.type == "http" and len(config.get("methods") or []) == 1:
        config["method"] = config["methods"][0]
    if trigger.type == "cron" and "schedule" in config:
        config["cron"] = config["schedule"]
    return FsTrigger(id=f"trg-{trigger.id}", workspace_id=function.project,
                     function_id=f"func-{function.id}", name=trigger.name,
                     type=_TRIGGER_NAMES.get(trigger.type, trigger.type),
                     enabled=trigger.enabled, config=config,
                     created_at=isoformat(trigger.created_at))
