"""The function service (gateway/services/functions.py) against real PostgreSQL: what a
change sets off after it commits, and a change to a function that went meanwhile, which the
API's routes cannot reach (they look the function up just before)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest

from gateway.core.errors import NotFound
from gateway.core.models import FunctionRecord
from gateway.schemas.functions import FunctionUpdate
from gateway.schemas.validation import parse
from gateway.schemas.versions import VersionCreate
from gateway.services.functions import FunctionService
from tests.integration.test_functions_api import create
from tests.integration.test_invoke_api import invoke

ACTOR = "svc-test"


def _services(client: httpx.AsyncClient) -> Any:
    return client.app.state.services  # type: ignore[attr-defined]


def _service(client: httpx.AsyncClient) -> FunctionService:
    service: FunctionService = _services(client).function_service
    return service


async def _function(client: httpx.AsyncClient, name: str) -> FunctionRecord:
    function: FunctionRecord | None = await _services(client).functions.get(name)
    assert function is not None
    return function


def _update(client: httpx.AsyncClient, data: dict[str, Any]) -> FunctionUpdate:
    return parse(FunctionUpdate, data,
                 context={"settings": _services(client).settings, "runtime": "python"})


def _version(client: httpx.AsyncClient, data: dict[str, Any]) -> VersionCreate:
    return parse(VersionCreate, data,
                 context={"settings": _services(client).settings, "runtime": "python"})


async def _python_workers(client: httpx.AsyncClient) -> int:
    count: int = _services(client).pools.warm_worker_count()["python"]
    return count


Change = Callable[[httpx.AsyncClient, FunctionRecord], Awaitable[Any]]
_CHANGES: dict[str, Change] = {
    "update": lambda c, f: _service(c).update(f, _update(c, {"description": "x"}),
                                              actor=ACTOR),
    "update with new code": lambda c, f: _service(c).update(
        f, _update(c, {"code": "def handler(e):\n    return 2\n"}), actor=ACTOR),
    "add_version": lambda c, f: _service(c).add_version(f, _version(c, {"activate": True}),
                                                        actor=ACTOR),
    "activate_version": lambda c, f: _service(c).activate_version(f, 1, actor=ACTOR),
    "rollback": lambda c, f: _service(c).rollback(f, actor=ACTOR),
}


@pytest.mark.parametrize("change", list(_CHANGES))
async def test_a_change_to_a_function_deleted_meanwhile_is_function_not_found(
        client: httpx.AsyncClient, change: str) -> None:
    assert (await create(client, name="fleeting")).status_code == 201
    function = await _function(client, "fleeting")
    assert await _services(client).functions.delete(function.id)
    with pytest.raises(NotFound) as raised:
        await _CHANGES[change](client, function)
    assert raised.value.code == "FUNCTION_NOT_FOUND"
    assert raised.value.message == "function 'fleeting' does not exist"


async def test_delete_drops_the_functions_warm_workers_and_cached_results(
        client: httpx.AsyncClient, database_url: str) -> None:
    assert (await create(client, name="cached")).status_code == 201
    r = await invoke(client, "cached", {"k": 1}, headers={"X-Cache-Control": "max-age=60"})
    assert r.status_code == 200 and r.headers["x-cache"] == "MISS"
    function = await _function(client, "cached")
    assert await _python_workers(client) == 1

    await _service(client).delete(function, actor=ACTOR)

    assert await _python_workers(client) == 0
    conn = await asyncpg.connect(database_url)
    try:
        left = await conn.fetchval("SELECT count(*) FROM result_cache WHERE function_id = $1",
                                   function.id)
        events = await conn.fetch("SELECT type, actor FROM function_events"
                                  " WHERE function_id = $1 ORDER BY id", function.id)
    finally:
        await conn.close()
    assert left == 0
    assert [(e["type"], e["actor"]) for e in events][-1] == ("deleted", ACTOR)
    assert await _services(client).functions.get("cached") is None


async def test_a_new_version_drops_the_warm_workers_of_the_old_code(
        client: httpx.AsyncClient) -> None:
    assert (await create(client, name="moving", code="def handler(e):\n    return 1\n")
            ).status_code == 201
    assert (await invoke(client, "moving", {})).json()["result"] == 1
    function = await _function(client, "moving")
    assert await _python_workers(client) == 1

    updated = await _service(client).update(
        function, _update(client, {"code": "def handler(e):\n    return 2\n"}), actor=ACTOR)

    assert updated.active_version == 2 and updated.code.endswith("return 2\n")
    assert await _python_workers(client) == 0
    assert (await invoke(client, "moving", {})).json()["result"] == 2


async def test_activating_the_active_version_keeps_the_warm_workers(
        client: httpx.AsyncClient) -> None:
    assert (await create(client, name="steady")).status_code == 201
    assert (await invoke(client, "steady", {"n": 1})).status_code == 200
    function = await _function(client, "steady")

    same = await _service(client).activate_version(function, 1, actor=ACTOR)

    assert same.active_version == 1
    assert await _python_workers(client) == 1
