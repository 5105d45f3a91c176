"""A function deleted (or its version changed) through one replica: the others drop its
warm workers, gate and metric series too (through the clean-up outbox, woken by NOTIFY
fngate_changes, and the reconciliation with the catalog)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from gateway.core.secretbox import secret_box_for
from gateway.store.functions import FunctionStore
from gateway.store.pool import create_pool
from gateway.store.replicas import REPLICA_STALE_S, ReplicaStore
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


@pytest.mark.parametrize("recreated", [False, True], ids=["deleted", "deleted-and-recreated"])
async def test_a_delete_missed_while_the_listener_was_away_is_caught_up_on_reconnect(
    settings_factory: Callable[..., Any], database_url: str, recreated: bool
) -> None:
    """Re-created: the name is taken again before replica two hears of the delete; its
    outbox row still tells it to drop the deleted function's series (reconciling with the
    catalog alone saw the name in use and kept them)."""
    name = "reborn" if recreated else "missed"
    async with TcpProxy(5432) as proxy:
        via_proxy = database_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        async with running_app(settings_factory()) as one, \
                running_app(settings_factory(database_url=via_proxy)) as two:
            r = await create(one, name=name, code=V1)
            assert r.status_code == 201, r.text
            function_id = r.json()["id"]
            assert await _invoke(two, name) == 1
            pids = _worker_pids(two, function_id)
            assert pids
            assert name in _services(two).metrics.function_names()

            proxy.pause()  # replica two's listener is cut off: the NOTIFY never reaches it
            r = await one.delete(f"/api/v1/functions/{name}", headers=WRITER)
            assert r.status_code == 204
            if recreated:
                r = await create(one, name=name, code=V2)
                assert r.status_code == 201, r.text
            proxy.resume()

            await wait_for(lambda: all(_gone(pid) for pid in pids), timeout_s=15)
            await wait_for(lambda: name not in _services(two).metrics.function_names(),
                           timeout_s=10)
            if recreated:
                assert await _invoke(two, name) == 2


async def test_a_delete_writes_every_registered_replica_its_cleanup_row_in_its_transaction(
    settings_factory: Callable[..., Any], database_url: str
) -> None:
    async with running_app(settings_factory()) as one:
        r = await create(one, name="outboxed", code=V1)
        assert r.status_code == 201, r.text
        function_id = r.json()["id"]
    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:
        a, b = ReplicaStore(pool, uuid.uuid4()), ReplicaStore(pool, uuid.uuid4())
        await a.register()
        await b.register()
        functions = FunctionStore(pool, box=secret_box_for(settings_factory()))

        async def failing(conn: Any) -> None:
            raise RuntimeError("the audit event could not be written")

        with pytest.raises(RuntimeError):
            await functions.delete(function_id, also=failing)
        assert await a.pending() == [] and await b.pending() == []
        assert await functions.active_versions([function_id]) == {function_id: 1}

        assert await functions.delete(function_id)
        for replica in (a, b):
            rows = await replica.pending()
            assert [(row.function_id, row.function_name, row.kind) for row in rows] == [
                (function_id, "outboxed", "deleted")]
        await a.done([row.id for row in await a.pending()])
        assert await a.pending() == []
        assert len(await b.pending()) == 1, "b's share waits for b"
        await b.unregister()
        assert await pool.fetchval("SELECT count(*) FROM function_cleanups") == 0
    finally:
        await pool.close()


async def test_a_replica_forgotten_for_being_unseen_is_told_to_sweep_everything(
    database_url: str
) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:
        stale, alive = ReplicaStore(pool, uuid.uuid4()), ReplicaStore(pool, uuid.uuid4())
        await stale.register()
        await alive.register()
        await pool.execute(
            "UPDATE replicas SET seen_at = now() - make_interval(secs => $2) WHERE id = $1",
            stale.replica_id, REPLICA_STALE_S + 60)
        assert await alive.beat() is True  # and forgets the stale one
        assert await pool.fetchval("SELECT count(*) FROM replicas WHERE id = $1",
                                   stale.replica_id) == 0
        assert await stale.beat() is False  # its rows are gone: it must sweep
        assert await stale.beat() is True  # registered again
    finally:
        await pool.close()
