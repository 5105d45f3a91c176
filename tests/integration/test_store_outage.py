"""A database that goes away: 503 UNAVAILABLE and /health down, never a 500."""

from __future__ import annotations

from tests.conftest import auth, running_app
from tests.tcp_proxy import TcpProxy


async def test_database_outage_is_503_not_500(settings_factory, database_url: str) -> None:
    async with TcpProxy(5432) as p:
        via_proxy = database_url.replace("127.0.0.1:5432", f"127.0.0.1:{p.port}")
        async with running_app(settings_factory(database_url=via_proxy)) as c:
            assert (await c.get("/ready")).status_code == 200
            await p.take_down()
            r = await c.get("/api/v1/functions", headers=auth("read:functions"))
            assert r.status_code == 503, r.text
            assert r.json()["error"]["code"] == "UNAVAILABLE"
            assert r.headers["retry-after"] and r.headers["x-request-id"]
            h = await c.get("/health")
            assert h.status_code == 503 and h.json()["components"]["database"] == "down"
            assert (await c.get("/ready")).status_code == 503


async def test_a_sync_record_lost_with_the_database_answers_503(settings_factory,
                                                                 database_url: str) -> None:
    """The run is done but its record cannot be committed: the answer is the outage's 503,
    not the result of a job nobody can read."""
    from tests.integration.test_functions_api import create
    from tests.integration.test_invoke_api import invoke

    async with TcpProxy(5432) as p:
        via_proxy = database_url.replace("127.0.0.1:5432", f"127.0.0.1:{p.port}")
        async with running_app(settings_factory(database_url=via_proxy)) as c:
            assert (await create(c, name="cut")).status_code == 201
            assert (await invoke(c, "cut", {"warm": 1})).status_code == 200
            await p.take_down()
            r = await invoke(c, "cut", {"n": 1})
            assert r.status_code == 503, r.text
            assert r.json()["error"]["code"] == "UNAVAILABLE"
            assert "x-job-id" not in r.headers and r.headers["x-request-id"]
