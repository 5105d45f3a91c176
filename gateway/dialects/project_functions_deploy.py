"""``POST /api/v1/functions/{project_name}/deploy`` of the project-functions document: its
multipart form read into fngate's function create or update body.

The form has ``function_name``, ``code`` (a file), and optionally ``requirements`` (a
requirements file) and ``env_vars`` — a JSON object string, or ``KEY=VALUE`` lines. A new
name creates a Python function in the project (the project is created with it, as a native
create does); a name the project already has updates it: the code becomes a new version,
and ``requirements`` and ``env_vars``, when sent, replace its dependencies and environment.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import Field
from starlette.requests import Request

from auth import Principal
from gateway.api.context import Services
from gateway.api.routes._function_body import read_function_body
from gateway.core.errors import Conflict, InvalidRequest
from gateway.core.models import FunctionRecord
from gateway.dialects._translate import create_function, update_function
from gateway.schemas.base import RequestModel
from gateway.schemas.validation import parse

__all__ = ["PfDeployForm", "deploy_function", "parse_env_vars", "read_deploy_form"]

#: The document's functions are Python (their dependencies are a requirements file).
RUNTIME = "python"


class PfDeployForm(RequestModel):
    """The deploy form, once decoded (``requirements`` already read as ``dependencies``)."""

    function_name: str = Field(description="The function's name (fngate's name rules).")
    code: str = Field(description="The function's source, an uploaded file or a text field.")
    dependencies: list[str] | None = Field(
        None, description="The `requirements` file, one specifier a line.")
    env_vars: str | None = Field(
        None, description="A JSON object of strings, or `KEY=VALUE` lines (`#` comments).")


def parse_env_vars(text: str) -> dict[str, str]:
    """``env_vars`` as a mapping: a JSON object of strings, else ``KEY=VALUE`` lines. The
    names are checked by the function body's own rules afterwards."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            value = orjson.loads(stripped)
        except orjson.JSONDecodeError as exc:
            raise _bad_env(f"is not a valid JSON object: {exc}") from exc
        if not isinstance(value, dict):
            raise _bad_env("must be a JSON object")
        for key, item in value.items():
            if not isinstance(item, str):
                raise _bad_env(f"value of '{key}' must be a string")
        return value
    variables: dict[str, str] = {}
    for number, line in enumerate(stripped.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise _bad_env(f"line {number} is not KEY=VALUE")
        variables[key.strip()] = value.strip()
    return variables


def _bad_env(reason: str) -> InvalidRequest:
    return InvalidRequest(f"env_vars {reason}", details={"field": "env_vars"})


async def read_deploy_form(request: Request) -> PfDeployForm:
    """The deploy form of the request, or the 400 naming what is wrong with it."""
    return parse(PfDeployForm, await read_function_body(request))


async def deploy_function(services: Services, project: str, principal: Principal,
                          form: PfDeployForm) -> FunctionRecord:
    """Create or update the function ``form`` names, in ``project``, through the function
    service; returns it as it is now."""
    body: dict[str, Any] = {"code": form.code}
    if form.dependencies is not None:
        body["dependencies"] = form.dependencies
    if form.env_vars is not None:
        body["environment"] = parse_env_vars(form.env_vars)
    current = await services.functions.get(form.function_name)
    if current is None or current.name.lower() != form.function_name.lower():
        return await create_function(services, principal, {
            **body, "name": form.function_name, "runtime": RUNTIME, "project": project})
    if current.project != project:
        # Names are unique across projects; which project has it is said only to a caller
        # that sees that project (the native create's 409 says no more).
        where = f" in project '{current.project}'" if principal.sees(current.project) else ""
        raise Conflict(f"function name '{form.function_name}' is already in use{where}; "
                       "function names are unique across projects",
                       details={"field": "function_name"})
    return await update_function(services, principal, current, body)
