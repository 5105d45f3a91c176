"""What every Function Service route reads from its path: the workspace (an fngate
project) and the function (``func-<id>``) it names, as the caller may reach them.

The workspace is the project: a caller that does not see it (a token for another
workspace) meets 404 ``PROJECT_NOT_FOUND`` for every path under it, as the native project
routes answer (:func:`~gateway.api.routes._lookup.reach_project`), before any function,
invocation or version is looked up, so nothing of it leaks.
"""

from __future__ import annotations

from starlette.requests import Request

from auth import Principal
from gateway.api.context import services_of
from gateway.api.routes._lookup import reach_project
from gateway.core.models import FunctionRecord
from gateway.dialects.function_service_models import parse_id
from gateway.store.functions import function_not_found

__all__ = ["enter_workspace", "load_workspace_function"]


def enter_workspace(request: Request, principal: Principal, *scopes: str) -> str:
    """The path's workspace as ``principal`` may reach it: 403 without one of ``scopes``
    anywhere, 404 ``PROJECT_NOT_FOUND`` when it does not see the workspace, 403 without one
    of ``scopes`` there (no ``scopes``: only whether it sees it). The workspace need not
    exist yet: a create makes it, and an empty one lists no functions."""
    workspace: str = request.path_params["workspaceId"]
    reach_project(principal, workspace, *scopes)
    return workspace


async def load_workspace_function(request: Request, principal: Principal,
                                  *scopes: str) -> FunctionRecord:
    """The function ``{functionId}`` names, in the path's workspace entered as
    :func:`enter_workspace` enters it; 404 ``FUNCTION_NOT_FOUND`` for an id of another form
    or another workspace's function."""
    workspace = enter_workspace(request, principal, *scopes)
    raw = request.path_params["functionId"]
    number = parse_id("func", raw)
    function = None if number is None else await services_of(request).functions.get(str(number))
    if function is None or function.project != workspace:
        raise function_not_found(raw)
    return function
