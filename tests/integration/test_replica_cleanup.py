"""A function deleted (or its version changed) through one replica: the others drop its
warm workers, gate and metric series too (through NOTIFY fngate_changes)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import running_app, wait_for
from tests.integration.test_functions_api import WRITER, create
from tests.tcp_proxy import TcpProxy

V1 = "def handler(e):\n    return 1\n"
V2 = "def handler(e):\n    return 2\n"


def _services(client: httpx.AsyncClient) -> Any:
    return client.app.state.services  # type: ignore[attr-defined]


def _worker_pids(client: httpx.AsyncClient, function_id: int) -> dict[int, int]:
    """pid → version of each live specialized worker of ``function_id``."""
    return {w.pid: w.spec.version for w in _services(client).pools._all
            if w.spec is not None and w.spec.function_id == function_id and w.alive}


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def _invoke(client: httpx.AsyncClient, name: str) -> Any:
    r = await client.post(f"/api/v1/functions/{name}/invoke", headers=WRITER, json={})
    assert r.status_code == 200, r.text
    return r.json()["result"]


async def test_a_function_deleted_on_one_replica_leaves_no_workers_or_series_on_another(
    settings_factory: Callable[..., Any]
) -> None:
    async with running_app(settings_factory()) as one, running_app(settings_factory()) as two:
        r = await create(one, name="doomed", code=V1)
        assert r.status_code == 201, r.text
        function_id = r.json()["id"]
        assert await _invoke(one, "doomed") == 1
        assert await _invoke(two, "doomed") == 1
        pids = _worker_pids(two, function_id)
        assert pids, "replica two has a warm worker of the function"
        assert "doomed" in _services(two).metrics.function_names()
        assert function_id in _services(two).dispatcher.gates.function_ids()

        assert (await one.delete("/api/v1/functions/doomed", headers=WRITER)).status_code == 204

        await wait_for(lambda: all(_gone(pid) for pid in pids), timeout_s=10)
        assert _worker_pids(two, function_id) == {}
        await wait_for(lambda: "doomed" not in _services(two).metrics.function_names(),
                       timeout_s=10)
        await wait_for(
            lambda: function_id not in _services(two).dispatcher.gates.function_ids(),
            timeout_s=10)
        # The replica that served the DELETE cleaned up too (and again, harmlessly).
        assert _worker_pids(one, function_id) == {}
        assert "doomed" not in _services(one).metrics.function_names()


async def test_a_version_changed_on_one_replica_ends_the_old_versions_workers_on_another(
    settings_factory: Callable[..., Any]
) -> None:
    async with running_app(settings_factory()) as one, running_app(settings_factory()) as two:
        # Only the change listener can refresh the second replica's cache now.
        _services(two).functions._cache_ttl_s = 3600
        r = await create(one, name="moving", code=V1)
        assert r.status_code == 201, r.text
        function_id = r.json()["id"]
        assert await _invoke(two, "moving") == 1
        old = _worker_pids(two, function_id)
        assert list(old.values()) == [1]

        r = await one.put("/api/v1/functions/moving", headers=WRITER, json={"code": V2})
        assert r.status_code == 200, r.text

        await wait_for(lambda: all(_gone(pid) for pid in old), timeout_s=10)
        assert await _invoke(two, "moving") == 2
        assert set(_worker_pids(two, function_id).values()) == {2}


async def test_a_delete_missed_while_the_listener_was_away_is_caught_up_on_reconnect(
    settings_factory: Callable[..., Any], database_url: str
) -> None:
    async with TcpProxy(5432) as proxy:
        via_proxy = database_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        async with running_app(settings_factory()) as one, \
                running_app(settings_factory(database_url=via_proxy)) as two:
            r = await create(one, name="missed", code=V1)
            assert r.status_code == 201, r.text
            function_id = r.json()["id"]
            assert await _invoke(two, "missed") == 1
            pids = _worker_pids(two, function_id)
            assert pids

            proxy.pause()  # replica two's listener is cut off: the NOTIFY never reaches it
            r = await one.delete("/api/v1/functions/missed", headers=WRITER)
            assert r.status_code == 204
            proxy.resume()

            await wait_for(lambda: all(_gone(pid) for pid in pids), timeout_s=15)
            await wait_for(lambda: "missed" not in _services(two).metrics.function_names(),
                           timeout_s=10)
