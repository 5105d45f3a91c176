"""What every Function Service route reads from its path: the workspace (an fngate
project) and the function (``func-<id>``) it names, as the caller may see it."""

from __future__ import annotations

from starlette.requests import Request

from gateway.api.context import services_of
from gateway.core.models import FunctionRecord
from gateway.dialects.function_service_models import parse_id
from gateway.store.functions import function_not_found

__all__ = ["load_workspace_function", "workspace_of"]


def workspace_of(request: Request) -> str:
    """The ``{workspaceId}`` of the path: the project's name."""
    workspace: str = request.path_params["workspaceId"]
    return workspace


async def load_workspace_function(request: Request) -> FunctionRecord:
    """The function ``{functionId}`` names, in the path's workspace; 404
    ``FUNCTION_NOT_FOUND`` for an id of another form or another workspace's function."""
    raw = request.path_params["functionId"]
    number = parse_id("func", raw)
    function = None if number is None else await services_of(request).functions.get(str(number))
    if function is None or function.project != workspace_of(request):
        raise function_not_found(raw)
    return function
