"""Wire models of projects and of the environment and dependency layers (a project's and
the system's) beneath every function's own."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from gateway.core.identifiers import ENV_NAME_PATTERN, ENV_NAME_RE, PROJECT_NAME_PATTERN
from gateway.core.projects import dependency_pattern
from gateway.schemas.base import RequestModel, ResponseModel, Timestamp
from gateway.schemas.validation import bad_value, refuse

__all__ = [
    "MAX_DEPENDENCIES", "MAX_DESCRIPTION", "MAX_VARIABLES", "Dependencies", "DependenciesData",
    "Environment", "EnvironmentData", "Project", "ProjectCreate", "ProjectList",
    "ProjectQuotas", "ProjectUpdate", "QuotasView", "SecretNames", "SecretsData",
]

MAX_VARIABLES = 1000
MAX_DEPENDENCIES = 100
MAX_DESCRIPTION = 4096


def _variable_names(variables: Any) -> Any:
    if isinstance(variables, dict):
        for name in variables:
            if not ENV_NAME_RE.fullmatch(name):
                raise bad_value("invalid_variable_name", f"has an invalid variable name '{name}'")
    return variables


def _package_spec(spec: str) -> str:
    spec = spec.strip()
    if not (dependency_pattern("python").fullmatch(spec)
            or dependency_pattern("nodejs").fullmatch(spec)):
        raise bad_value("invalid_dependency",
                        f"must be a package name with optional version ranges (no options, "
                        f"URLs or paths), not '{spec}'")
    return spec


def _unique(specs: list[str]) -> list[str]:
    return list(dict.fromkeys(specs))


#: Variables by name, as a function runs with them. (A pattern on the key type would be
#: written as ``patternProperties``, which lets other names through: ``propertyNames``.)
Environment = Annotated[
    dict[str, str],
    Field(max_length=MAX_VARIABLES,
          json_schema_extra={"propertyNames": {"pattern": ENV_NAME_PATTERN}}),
    BeforeValidator(_variable_names),
]

#: Packages for either runtime: each applies to the functions whose runtime's syntax it
#: fits (``lodash@^4`` to Node.js, ``requests>=2`` to Python, a bare name to both).
Dependencies = Annotated[
    list[Annotated[str, AfterValidator(_package_spec),
                   Field(description="A pip requirement (`requests>=2,<3`) or an npm spec "
                                     "(`lodash@^4`): names and version ranges only; options, "
                                     "URLs, paths → 400.")]],
    Field(max_length=MAX_DEPENDENCIES, description="Duplicates are dropped."),
    AfterValidator(_unique),
]

_MAX_QUOTA = 2**31 - 1  # a PostgreSQL integer


class ProjectQuotas(RequestModel):
    """A project's quotas, set by the operator (an unqualified `admin`); null or absent is
    unlimited. Going over one answers 429 `QUOTA_EXCEEDED` (`details`: `project`, `quota`,
    `limit`, `current`)."""

    max_functions: int | None = Field(
        default=None, ge=1, le=_MAX_QUOTA,
        description="Functions the project may hold: creating one more, or moving one in, "
                    "past it → 429.")
    max_concurrency: int | None = Field(
        default=None, ge=1, le=_MAX_QUOTA,
        description="Executions of the project's functions running at once, all triggers "
                    "together, counted on each gateway replica: a sync `/invoke` or HTTP "
                    "trigger past it → 429 at once; session executes, async, cron and queue "
                    "work wait instead (pending jobs are not claimed until the project has "
                    "room).")
    max_memory_mb: int | None = Field(
        default=None, ge=1, le=_MAX_QUOTA,
        description="The most `memory_mb` a function of the project may ask for: a create, "
                    "update or move of a function with more → 429.")


# Fields a client may know (from a Project) that a create cannot set, and why.
_REFUSED = {
    "status": "is set with POST /api/v1/projects/{name}/start or /stop",
    **{key: "is set by the gateway and cannot be sent"
       for key in ("id", "functions", "created_at", "updated_at")},
}


class ProjectCreate(RequestModel):
    """Body of `POST /api/v1/projects`. Any other field → 400 `INVALID_REQUEST` naming it
    (`details.field`)."""

    name: str = Field(pattern=PROJECT_NAME_PATTERN)
    description: str = Field(default="", max_length=MAX_DESCRIPTION)
    environment: Environment = Field(default={}, repr=False)
    dependencies: Dependencies = Field(default=[])
    quotas: ProjectQuotas = Field(default_factory=ProjectQuotas,
                                  description="Unlimited when left out.")

    @model_validator(mode="before")
    @classmethod
    def _refused(cls, body: Any) -> Any:
        return refuse(body, _REFUSED)

    @field_validator("description", "environment", "dependencies", "quotas", mode="before")
    @classmethod
    def _null_is_the_default(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            assert info.field_name is not None
            return cls.model_fields[info.field_name].get_default(call_default_factory=True)
        return value


class ProjectUpdate(RequestModel):
    """Body of `PUT /api/v1/projects/{name}`: every field optional. `quotas` changes the
    quotas it names (null: unlimited) and keeps the others; only the operator (an
    unqualified `admin`) may send it. Any other field → 400 naming it."""

    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION)
    quotas: ProjectQuotas | None = None

    @model_validator(mode="before")
    @classmethod
    def _refused(cls, body: Any) -> Any:
        return refuse(body, {**_REFUSED, "name": "cannot be changed",
                             "environment": "is set with PUT /api/v1/projects/{name}/env",
                             "dependencies": "is set with PUT "
                                             "/api/v1/projects/{name}/dependencies"})


class QuotasView(ResponseModel):
    """A project's quotas as set; null is unlimited."""

    max_functions: int | None
    max_concurrency: int | None
    max_memory_mb: int | None


class Project(ResponseModel):
    """A project, with the names of its functions."""

    id: int
    name: str = Field(pattern=PROJECT_NAME_PATTERN)
    description: str
    status: Literal["running", "stopped"]
    functions: list[str] = Field(description="Names of the project's functions, sorted.")
    environment: Environment = Field(description="Values masked (`\"***\"`) unless the "
                                                 "caller holds `admin`.")
    dependencies: list[str]
    secret_names: list[str] = Field(description="Names of the project's secrets, sorted; "
                                                "values are never returned.")
    quotas: QuotasView = Field(description="Set by the operator; null is unlimited.")
    created_at: Timestamp
    updated_at: Timestamp


class ProjectList(ResponseModel):
    projects: list[Project]


class EnvironmentData(RequestModel):
    """An environment layer; `PUT` replaces it whole."""

    data: Environment = Field(repr=False)


class DependenciesData(RequestModel):
    """A dependency layer; `PUT` replaces it whole."""

    data: Dependencies


class SecretsData(RequestModel):
    """A secrets layer (name → value); `PUT` replaces it whole. Values are sealed at rest
    and never returned."""

    data: Environment = Field(repr=False)


class SecretNames(ResponseModel):
    """The names of a secrets layer, sorted: its values are never returned."""

    names: list[str]
