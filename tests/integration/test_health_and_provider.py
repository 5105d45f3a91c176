"""``/health``, ``/ready``, ``/status`` and ``/api/v1/provider/*`` against real dependencies."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import pytest

import executors.pool
import executors.sandbox
from executors.runtimes import RuntimeCommand
from gateway.core.version import VERSION
from gateway.store.migrate import migrate, migrations_applied
from gateway.store.pool import create_pool
from tests.conftest import PG_ADMIN_DSN, auth, running_app, wait_for
from tests.integration.test_functions_api import WRITER, create
from tests.tcp_proxy import TcpProxy

ANY_TOKEN = auth("read:functions")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_health_reports_every_component(client: httpx.AsyncClient) -> None:
    r = await client.get("/health")
    assert r.status_code == 200
    body = r.json()
    sandbox = body.pop("sandbox")
    assert body == {
        "status": "ok", "version": VERSION,
        "components": {"database": "ok", "broker": "disabled", "scheduler": "ok",
                       "rate_limiter": "disabled",  # FNGATE_RATE_LIMITS=off in the tests
                       "sandbox": "ok", "runtimes": {"python": "ok", "nodejs": "ok",
                                                     "go": "ok", "rust": "ok"},
                       # The lambda-microservice document's names (no Redis configured).
                       "controller": "ok", "postgres": "ok", "redis": "disabled"},
        "isolation": "namespaces",
    }
    assert sandbox["isolation"] == "namespaces" and sandbox["status"] == "ok"
    assert sandbox["error"] is None
    if os.geteuid() == 0:  # the egress filter, a uid per worker and cgroups need root
        assert sandbox["network_egress"] == "filtered" and sandbox["per_worker_uid"] is True
        assert sandbox["cpu_quota"] is True and sandbox["memory_limit"] == "cgroup"


async def test_a_sandbox_that_cannot_be_set_up_is_down_and_every_report_says_so(
    settings_factory: Callable[..., Any], monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_which = shutil.which
    monkeypatch.setattr(executors.sandbox.shutil, "which",
                        lambda n, *a, **k: None if n == "bwrap" else real_which(n, *a, **k))
    async with running_app(settings_factory()) as client:
        body = (await client.get("/health")).json()
        assert body["status"] == "degraded" and body["components"]["sandbox"] == "down"
        assert "bubblewrap" in body["sandbox"]["error"]
        r = await client.get("/api/v1/provider/health", headers=ANY_TOKEN)
        assert r.status_code == 503 and "sandbox" in r.json()["error"]["details"]["down"]
        assert (await create(client, name="nosandbox")).status_code == 201
        r = await client.post("/api/v1/functions/nosandbox/invoke", json={}, headers=WRITER)
        job = r.json()
        assert job["status"] == "failed", job
        assert job["error"]["details"]["type"] == "WorkerStartFailed"
        assert "FNGATE_SANDBOX=process" in job["error"]["message"]


async def test_process_mode_is_reported_as_such(settings_factory: Callable[..., Any]) -> None:
    async with running_app(settings_factory(sandbox="process")) as client:
        assert (await client.get("/health")).json()["isolation"] == "process"
        assert (await client.get("/status")).json()["isolation"] == "process"
        caps = (await client.get("/api/v1/provider/capabilities", headers=ANY_TOKEN)).json()
        assert caps["isolation"] == "process" and caps["network_policies"] == ["egress"]
        # Functions run there, with the same rlimits; "none" cannot be honoured, so it fails.
        code = ("def handler(e):\n    return [l for l in open('/proc/self/limits')"
                " if l.startswith('Max open files')]\n")
        assert (await create(client, name="plain", code=code)).status_code == 201
        r = await client.post("/api/v1/functions/plain/invoke", json={}, headers=WRITER)
        assert r.status_code == 200, r.text
        assert r.json()["result"][0].split()[3:5] == ["256", "256"]
        assert (await create(client, name="offline", network="none")).status_code == 201
        job = (await client.post("/api/v1/functions/offline/invoke", json={},
                                 headers=WRITER)).json()
        assert job["status"] == "failed" and "namespace sandbox" in job["error"]["message"]


async def test_a_broker_on_a_closed_port_is_down_and_the_gateway_degraded(
    settings_factory: Callable[..., Any],
) -> None:
    url = f"amqp://guest:guest@127.0.0.1:{closed_port()}/"
    async with running_app(settings_factory(amqp_url=url)) as client:
        r = await client.get("/health")
        assert r.status_code == 200
        body = r.json()
        assert body["status"] == "degraded" and body["components"]["broker"] == "down"
        assert body["components"]["database"] == "ok"
        # The broker does not stop the gateway serving functions.
        r = await client.get("/api/v1/provider/health", headers=ANY_TOKEN)
        assert r.status_code == 200 and r.json() == {"status": "healthy"}
        caps = (await client.get("/api/v1/provider/capabilities", headers=ANY_TOKEN)).json()
        assert caps["supported_trigger_types"] == ["http", "cron", "queue"]


def _node_that_cannot_start(monkeypatch: pytest.MonkeyPatch, *, installed: bool) -> None:
    real = executors.pool.detect_runtimes

    def patched(user: Any) -> Any:
        found = real(user)
        found["nodejs"] = (RuntimeCommand(runtime="nodejs", interpreter="/bin/false",
                                          argv=("/bin/false",)) if installed else None)
        return found

    monkeypatch.setattr(executors.pool, "detect_runtimes", patched)


async def test_a_runtime_whose_workers_cannot_start_is_down(
    settings_factory: Callable[..., Any], monkeypatch: pytest.MonkeyPatch,
) -> None:
    _node_that_cannot_start(monkeypatch, installed=True)
    async with running_app(settings_factory(prewarm_per_runtime=1)) as client:
        body = (await client.get("/health")).json()
        assert body["status"] == "degraded"
        assert body["components"]["runtimes"] == {"python": "ok", "nodejs": "down", "go": "ok",
                                                  "rust": "ok"}
        r = await client.get("/api/v1/provider/health", headers=ANY_TOKEN)
        assert r.status_code == 503
        error = r.json()["error"]
        assert error["code"] == "UNAVAILABLE" and error["details"]["down"] == ["runtimes.nodejs"]
        assert r.headers["retry-after"]


async def test_a_runtime_not_installed_is_disabled_not_down(
    settings_factory: Callable[..., Any], monkeypatch: pytest.MonkeyPatch,
) -> None:
    _node_that_cannot_start(monkeypatch, installed=False)
    async with running_app(settings_factory()) as client:
        body = (await client.get("/health")).json()
        assert body["status"] == "ok"
        assert body["components"]["runtimes"] == {"python": "ok", "nodejs": "disabled",
                                                  "go": "ok", "rust": "ok"}
        r = await client.get("/api/v1/provider/health", headers=ANY_TOKEN)
        assert r.status_code == 200
        caps = (await client.get("/api/v1/provider/capabilities", headers=ANY_TOKEN)).json()
        assert caps["supported_runtimes"] == ["python", "go", "rust"]


async def test_provider_health_is_503_naming_the_database_when_it_is_gone(
    settings_factory: Callable[..., Any], database_url: str,
) -> None:
    async with TcpProxy(5432) as p:
        via_proxy = database_url.replace("127.0.0.1:5432", f"127.0.0.1:{p.port}")
        async with running_app(settings_factory(database_url=via_proxy)) as client:
            r = await client.get("/api/v1/provider/health", headers=ANY_TOKEN)
            assert r.status_code == 200 and r.json() == {"status": "healthy"}
            await p.take_down()
            r = await client.get("/api/v1/provider/health", headers=ANY_TOKEN)
            assert r.status_code == 503
            error = r.json()["error"]
            assert error["code"] == "UNAVAILABLE" and error["details"]["down"] == ["database"]
            assert error["details"]["components"]["database"] == "down"
            # A scrape still answers without the database.
            assert (await client.get("/metrics")).status_code == 200


async def test_migrations_applied_only_once_every_migration_is() -> None:
    name = "fngate_t_unmigrated"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        pool = await create_pool(PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + name,
                                 min_size=1, max_size=2)
        try:
            async with pool.acquire() as conn:
                assert not await migrations_applied(conn)  # no schema_migrations at all
                await migrate(pool)
                assert await migrations_applied(conn)
                await conn.execute("DELETE FROM schema_migrations WHERE name = "
                                   "(SELECT max(name) FROM schema_migrations)")
                assert not await migrations_applied(conn)
        finally:
            await pool.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_ready_is_503_while_a_migration_is_missing(
    client: httpx.AsyncClient, database_url: str,
) -> None:
    assert (await client.get("/ready")).json() == {"status": "ready"}
    conn = await asyncpg.connect(database_url)
    try:
        last = await conn.fetchrow("DELETE FROM schema_migrations WHERE name = "
                                   "(SELECT max(name) FROM schema_migrations) RETURNING *")
        r = await client.get("/ready")
        assert r.status_code == 503 and r.json() == {"status": "not_ready"}
        await conn.execute("INSERT INTO schema_migrations (name, applied_at) VALUES ($1, $2)",
                           last["name"], last["applied_at"])
    finally:
        await conn.close()
    assert (await client.get("/ready")).status_code == 200


async def test_status_counts_functions_projects_and_warm_workers(
    client: httpx.AsyncClient,
) -> None:
    for name, project in (("a", "default"), ("b", "default"), ("c", "shop")):
        assert (await create(client, name=name, project=project)).status_code == 201
    r = await client.post("/api/v1/functions/a/invoke", json={}, headers=WRITER)
    assert r.status_code == 200
    body = (await client.get("/status")).json()
    assert set(body) == {"status", "isolation", "uptime_seconds", "active_projects",
                         "total_functions", "warm_workers", "memory_usage_bytes",
                         "live_workers", "max_workers", "workers_waiting",
                         "runtime_workers", "dialects"}
    assert body["dialects"] == ["function-api", "kube-serverless", "project-functions",
                                "function-service"]
    assert body["isolation"] == "namespaces"
    assert body["status"] == "running" and body["uptime_seconds"] >= 0
    assert body["total_functions"] == 3 and body["active_projects"] == 2
    assert body["warm_workers"] >= 1 and body["memory_usage_bytes"] > 10 * 1024 * 1024
    assert body["max_workers"] >= 1 and 1 <= body["live_workers"] <= body["max_workers"]
    assert body["workers_waiting"] == 0
    # No shares set: each runtime with workers is held to the cap only.
    python = body["runtime_workers"]["python"]
    assert python["max_workers"] is None and python["workers_waiting"] == 0
    assert sum(r["live_workers"] for r in body["runtime_workers"].values()) == body[
        "live_workers"]


async def test_capabilities_say_what_this_gateway_really_has(
    settings_factory: Callable[..., Any],
) -> None:
    settings = settings_factory(max_timeout_ms=120_000, max_memory_mb=512,
                                max_body_bytes=1_048_576)
    async with running_app(settings) as client:
        assert (await client.get("/api/v1/provider/capabilities")).status_code == 401
        caps = (await client.get("/api/v1/provider/capabilities", headers=ANY_TOKEN)).json()
        assert caps == {
            "name": "fngate", "version": VERSION,
            "supported_runtimes": ["python", "nodejs", "go", "rust"],
            "supported_trigger_types": ["http", "cron"],  # no broker configured
            "supports_async": True, "supports_versioning": True, "max_timeout_ms": 120_000,
            "max_memory_mb": 512, "max_payload_bytes": 1_048_576,
            "typical_cold_start_ms": None,  # nothing has cold-started yet
            "isolation": "namespaces",
            "network_policies": ["egress", "none"] if os.geteuid() == 0 else ["none"],
        }
        assert (await create(client, name="first")).status_code == 201
        r = await client.post("/api/v1/functions/first/invoke", json={}, headers=WRITER)
        assert r.headers["x-cold-start"] == "true"

        async def measured() -> Any:
            caps = (await client.get("/api/v1/provider/capabilities",
                                     headers=ANY_TOKEN)).json()
            return caps["typical_cold_start_ms"] is not None and caps

        caps = await wait_for(measured, timeout_s=5)
        assert isinstance(caps["typical_cold_start_ms"], int)
        assert 0 <= caps["typical_cold_start_ms"] < 5000
