"""A function's sandbox settings through the API and the store: `network`,
`ephemeral_storage_mb`, `cpu_millis` and the `resources` aliases."""

from __future__ import annotations

import uuid
from importlib import resources
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import PG_ADMIN_DSN, running_app
from tests.integration.test_functions_api import PY_ECHO, READER, WRITER, assert_error, create


def assert_field_error(response: httpx.Response, field: str) -> None:
    body = assert_error(response, 400, "INVALID_REQUEST")
    assert body["error"]["details"]["field"] == field, body
    assert f"'{field}'" in body["error"]["message"], body


async def test_create_shows_the_sandbox_defaults(client: httpx.AsyncClient) -> None:
    r = await create(client)
    assert r.status_code == 201, r.text
    f = r.json()
    assert f["network"] == "egress" and f["ephemeral_storage_mb"] == 512
    assert f["cpu_millis"] == 1000 and f["memory_mb"] == 256
    assert f["resources"] == {"cpu": "1000m", "memory": "256Mi"}
    listed = (await client.get("/api/v1/functions", headers=READER)).json()["functions"][0]
    assert listed["resources"] == {"cpu": "1000m", "memory": "256Mi"}
    assert listed["network"] == "egress"


@pytest.mark.parametrize(("extra", "expected"), [
    ({"network": "none"}, {"network": "none"}),
    ({"network": "egress"}, {"network": "egress"}),
    ({"ephemeral_storage_mb": 16}, {"ephemeral_storage_mb": 16}),
    ({"ephemeral_storage_mb": 10240}, {"ephemeral_storage_mb": 10240}),
    ({"cpu_millis": 250}, {"cpu_millis": 250, "resources": {"cpu": "250m", "memory": "256Mi"}}),
    ({"resources": {"cpu": "100m"}}, {"cpu_millis": 100}),
    ({"resources": {"cpu": "0.5"}}, {"cpu_millis": 500}),
    ({"resources": {"cpu": 0.5}}, {"cpu_millis": 500}),
    ({"resources": {"cpu": "2"}}, {"cpu_millis": 2000}),
    ({"resources": {"cpu": 2}}, {"cpu_millis": 2000}),
    ({"resources": {"memory": "512Mi"}},
     {"memory_mb": 512, "resources": {"cpu": "1000m", "memory": "512Mi"}}),
    ({"resources": {"memory": "1Gi"}}, {"memory_mb": 1024}),
    ({"resources": {"memory": "512M"}}, {"memory_mb": 489}),  # 512e6 bytes, rounded up
    ({"resources": {"memory": "65536Ki"}}, {"memory_mb": 64}),
    ({"resources": {"memory": "256Mi", "cpu": "100m"}},
     {"memory_mb": 256, "cpu_millis": 100, "resources": {"cpu": "100m", "memory": "256Mi"}}),
    ({"memory_mb": 1024, "resources": {"memory": "1Gi"}}, {"memory_mb": 1024}),
    ({"cpu_millis": 500, "resources": {"cpu": "0.5"}}, {"cpu_millis": 500}),
    ({"resources": None}, {"cpu_millis": 1000, "memory_mb": 256}),
])
async def test_each_valid_form_is_accepted_and_rendered(
    client: httpx.AsyncClient, extra: dict[str, Any], expected: dict[str, Any]
) -> None:
    r = await create(client, **extra)
    assert r.status_code == 201, r.text
    shown = (await client.get("/api/v1/functions/echo", headers=READER)).json()
    for body in (r.json(), shown):
        for key, value in expected.items():
            assert body[key] == value, (key, body)


@pytest.mark.parametrize(("extra", "field"), [
    ({"network": "wifi"}, "network"),
    ({"network": "EGRESS"}, "network"),
    ({"network": None}, "network"),
    ({"network": ["none"]}, "network"),
    ({"ephemeral_storage_mb": 0}, "ephemeral_storage_mb"),
    ({"ephemeral_storage_mb": 15}, "ephemeral_storage_mb"),
    ({"ephemeral_storage_mb": 10241}, "ephemeral_storage_mb"),
    ({"ephemeral_storage_mb": "x"}, "ephemeral_storage_mb"),
    ({"ephemeral_storage_mb": "512"}, "ephemeral_storage_mb"),
    ({"ephemeral_storage_mb": True}, "ephemeral_storage_mb"),
    ({"cpu_millis": 0}, "cpu_millis"),
    ({"cpu_millis": -1}, "cpu_millis"),
    ({"cpu_millis": 64001}, "cpu_millis"),
    ({"cpu_millis": "100m"}, "cpu_millis"),
    ({"resources": {"cpu": "0"}}, "resources.cpu"),
    ({"resources": {"cpu": "-1"}}, "resources.cpu"),
    ({"resources": {"cpu": -1}}, "resources.cpu"),
    ({"resources": {"cpu": "abc"}}, "resources.cpu"),
    ({"resources": {"cpu": "1.5x"}}, "resources.cpu"),
    ({"resources": {"cpu": "5m"}}, "resources.cpu"),
    ({"resources": {"cpu": "0.0005"}}, "resources.cpu"),
    ({"resources": {"cpu": "65"}}, "resources.cpu"),
    ({"resources": {"cpu": ""}}, "resources.cpu"),
    ({"resources": {"cpu": True}}, "resources.cpu"),
    ({"resources": {"cpu": None}}, "resources.cpu"),
    ({"resources": {"memory": "12Qi"}}, "resources.memory"),
    ({"resources": {"memory": "256"}}, "resources.memory"),
    ({"resources": {"memory": 256}}, "resources.memory"),
    ({"resources": {"memory": "8Mi"}}, "resources.memory"),
    ({"resources": {"memory": "3Gi"}}, "resources.memory"),
    ({"resources": {"memory": "-1Gi"}}, "resources.memory"),
    ({"memory_mb": 256, "resources": {"memory": "512Mi"}}, "resources.memory"),
    ({"cpu_millis": 100, "resources": {"cpu": "0.5"}}, "resources.cpu"),
    ({"resources": {"gpu": "1"}}, "resources.gpu"),
    ({"resources": "100m"}, "resources"),
    ({"resources": [{"cpu": "100m"}]}, "resources"),
])
async def test_each_invalid_form_is_a_400_naming_the_field(
    client: httpx.AsyncClient, extra: dict[str, Any], field: str
) -> None:
    assert_field_error(await create(client, **extra), field)
    r = await client.get("/api/v1/functions/echo", headers=READER)
    assert_error(r, 404, "FUNCTION_NOT_FOUND")


async def test_update_changes_them_in_place(client: httpx.AsyncClient) -> None:
    assert (await create(client, name="upd")).status_code == 201
    r = await client.put("/api/v1/functions/upd", headers=WRITER, json={
        "network": "none", "ephemeral_storage_mb": 64, "resources": {"cpu": "250m",
                                                                     "memory": "128Mi"}})
    assert r.status_code == 200, r.text
    f = r.json()
    assert f["network"] == "none" and f["ephemeral_storage_mb"] == 64
    assert f["cpu_millis"] == 250 and f["memory_mb"] == 128 and f["active_version"] == 1
    assert f["resources"] == {"cpu": "250m", "memory": "128Mi"}
    # Fields not sent keep their value; the top-level names work as well as the aliases.
    r = await client.put("/api/v1/functions/upd", headers=WRITER, json={"cpu_millis": 1500})
    f = r.json()
    assert f["cpu_millis"] == 1500 and f["network"] == "none" and f["memory_mb"] == 128
    r = await client.put("/api/v1/functions/upd", headers=WRITER, json={"network": "egress"})
    assert r.json()["network"] == "egress" and r.json()["ephemeral_storage_mb"] == 64
    assert_field_error(await client.put("/api/v1/functions/upd", headers=WRITER,
                                        json={"network": "wifi"}), "network")
    assert_field_error(await client.put("/api/v1/functions/upd", headers=WRITER,
                                        json={"resources": {"cpu": "abc"}}), "resources.cpu")
    shown = (await client.get("/api/v1/functions/upd", headers=READER)).json()
    assert shown["network"] == "egress" and shown["cpu_millis"] == 1500


async def test_multipart_create_and_update_take_them_as_form_fields(
    client: httpx.AsyncClient,
) -> None:
    r = await client.post(
        "/api/v1/functions", headers=WRITER,
        data={"name": "multi", "runtime": "python", "network": "none",
              "ephemeral_storage_mb": "32", "resources": '{"cpu": "100m", "memory": "1Gi"}'},
        files={"code": ("handler.py", PY_ECHO.encode(), "text/x-python")},
    )
    assert r.status_code == 201, r.text
    f = r.json()
    assert f["network"] == "none" and f["ephemeral_storage_mb"] == 32
    assert f["cpu_millis"] == 100 and f["memory_mb"] == 1024
    r = await client.put("/api/v1/functions/multi", headers=WRITER,
                         data={"cpu_millis": "2000"},
                         files={"code": ("handler.py", PY_ECHO.encode(), "text/x-python")})
    assert r.status_code == 200, r.text
    assert r.json()["cpu_millis"] == 2000 and r.json()["network"] == "none"
    for data, field in (({"cpu_millis": "lots"}, "cpu_millis"),
                        ({"ephemeral_storage_mb": "x"}, "ephemeral_storage_mb"),
                        ({"resources": "{not json"}, "resources")):
        r = await client.put("/api/v1/functions/multi", headers=WRITER, data=data,
                             files={"code": ("handler.py", PY_ECHO.encode(), "text/plain")})
        assert_field_error(r, field)


async def test_the_storage_cap_follows_the_settings(settings_factory: Any) -> None:
    async with running_app(settings_factory(max_ephemeral_storage_mb=100)) as c:
        assert (await create(c, name="small", ephemeral_storage_mb=100)).status_code == 201
        assert_field_error(await create(c, name="big", ephemeral_storage_mb=101),
                           "ephemeral_storage_mb")


async def test_functions_made_before_the_migration_get_the_defaults() -> None:
    from gateway.store.migrate import migrate

    folder = resources.files("gateway.store") / "migrations"
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))
    assert "0010_sandbox.sql" in names
    database = f"fngate_t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{database}"')
        dsn = PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + database
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("CREATE TABLE schema_migrations (name text PRIMARY KEY,"
                               " applied_at timestamptz NOT NULL DEFAULT now())")
            for name in names[:names.index("0010_sandbox.sql")]:
                await conn.execute((folder / name).read_text())
                await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)",
                                   name.removesuffix(".sql"))
            await conn.execute(
                "INSERT INTO functions (name, runtime, timeout_ms, memory_mb, max_concurrency,"
                " min_warm, cache_ttl) VALUES ('old', 'python', 1000, 256, 1, 0, 0)")
            pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1)
            try:
                assert "0010_sandbox" in await migrate(pool)
            finally:
                await pool.close()
            row = await conn.fetchrow("SELECT network, ephemeral_storage_mb, cpu_millis"
                                      " FROM functions WHERE name = 'old'")
            assert dict(row) == {"network": "egress", "ephemeral_storage_mb": 512,
                                 "cpu_millis": 1000}
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()
