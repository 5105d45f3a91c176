"""Secrets: layered into a function's environment, sealed at rest, never shown anywhere
else (responses, headers, logs, events, webhooks, /metrics, a database dump), kept across
restarts, and re-sealed when the key rotates."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from gateway.core.secretbox import SecretsUnreadable
from gateway.schemas.webhooks import EVENTS
from tests.conftest import auth, running_app, wait_for
from tests.integration.test_functions_api import WRITER, assert_error, create
from tests.integration.test_webhooks import add_webhook, receiving, settings_for

ADMIN = auth("admin")
K1, K2, K3 = ("key-one-" + "1" * 40, "key-two-" + "2" * 40, "key-three-" + "3" * 40)

# Plain texts no other byte of the gateway's could contain by chance.
SYSTEM_VALUE = "sys-plain-7f3a9c"
PROJECT_VALUE = "proj-plain-4b1e2d"
FUNCTION_VALUE = "fn-plain-9d8c7b"
LAYERED = "layered-secret-5a6b"
PLAIN_TEXTS = (SYSTEM_VALUE, PROJECT_VALUE, FUNCTION_VALUE, LAYERED)

# Answers digests of what it sees, so the secrets themselves never travel in a result.
DIGEST_ENV = (
    "import hashlib, os\n\n"
    "def handler(event):\n"
    "    return {k: hashlib.sha256(v.encode()).hexdigest() for k, v in os.environ.items()"
    " if k.startswith('S_')}\n"
)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


async def put_secrets(client: httpx.AsyncClient, path: str, data: dict[str, str]) -> Any:
    r = await client.put(path, headers=ADMIN, json={"data": data})
    assert r.status_code == 200, r.text
    return r.json()


async def set_up_layers(client: httpx.AsyncClient) -> None:
    """System, project and function secrets over plain variables of the same names."""
    assert await put_secrets(client, "/api/v1/secrets/system", {
        "S_SYS": SYSTEM_VALUE, "S_LAYER": "system"}) == {"names": ["S_LAYER", "S_SYS"]}
    r = await client.post("/api/v1/projects", headers=ADMIN,
                          json={"name": "shop", "environment": {"S_PROJ": "plain"}})
    assert r.status_code == 201, r.text
    assert await put_secrets(client, "/api/v1/projects/shop/secrets", {
        "S_PROJ": PROJECT_VALUE, "S_LAYER": "project"}) == {"names": ["S_LAYER", "S_PROJ"]}
    r = await create(client, name="env", code=DIGEST_ENV, project="shop",
                     environment={"S_FN": "plain", "S_PLAIN": "visible"},
                     secrets={"S_FN": FUNCTION_VALUE, "S_LAYER": LAYERED})
    assert r.status_code == 201, r.text
    assert r.json()["secret_names"] == ["S_FN", "S_LAYER"]


EXPECTED = {"S_SYS": digest(SYSTEM_VALUE), "S_PROJ": digest(PROJECT_VALUE),
            "S_FN": digest(FUNCTION_VALUE), "S_LAYER": digest(LAYERED),
            "S_PLAIN": digest("visible")}


async def invoke_env(client: httpx.AsyncClient) -> Any:
    r = await client.post("/api/v1/functions/env/invoke", headers=WRITER, json={})
    assert r.status_code == 200 and r.json()["status"] == "success", r.text
    return r.json()["result"]


async def test_secrets_reach_the_function_and_appear_nowhere_else(
    settings_factory: Callable[..., Any], caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[bytes] = []

    async def keep(response: httpx.Response) -> None:
        await response.aread()
        seen.append(response.content)
        seen.append(repr(response.headers.multi_items()).encode())

    settings = settings_for(settings_factory)
    async with receiving() as receiver, running_app(settings) as client:
        client.event_hooks["response"].append(keep)
        await add_webhook(client, receiver.url, list(EVENTS))
        await set_up_layers(client)
        # Plain variables first, then secrets system → project → function over them.
        assert await invoke_env(client) == EXPECTED
        r = await client.post("/api/v1/functions/env/invoke-async", headers=WRITER, json={})
        assert r.status_code == 202, r.text

        # Names only, wherever a layer is read.
        f = (await client.get("/api/v1/functions/env", headers=WRITER)).json()
        assert f["secret_names"] == ["S_FN", "S_LAYER"] and "secrets" not in f
        assert f["environment"] == {"S_FN": "plain", "S_PLAIN": "visible"}
        p = (await client.get("/api/v1/projects/shop", headers=ADMIN)).json()
        assert p["secret_names"] == ["S_LAYER", "S_PROJ"]
        assert (await client.get("/api/v1/projects/shop/secrets", headers=ADMIN)).json() \
            == {"names": ["S_LAYER", "S_PROJ"]}
        assert (await client.get("/api/v1/secrets/system", headers=ADMIN)).json() \
            == {"names": ["S_LAYER", "S_SYS"]}
        for path in ("/api/v1/functions", "/api/v1/functions/env/versions",
                     "/api/v1/functions/env/events", "/api/v1/functions/env/jobs",
                     "/api/v1/projects", "/api/v1/webhooks",
                     "/api/v1/functions/env/logs", "/api/v1/functions/env/metrics",
                     "/openapi.json", "/metrics"):
            assert (await client.get(path, headers=ADMIN)).status_code == 200, path
        # An update that leaves the secrets out keeps them; a rename and a delete send
        # events and webhooks too.
        r = await client.put("/api/v1/functions/env", headers=WRITER,
                             json={"description": "x", "name": "env2"})
        assert r.status_code == 200 and r.json()["secret_names"] == ["S_FN", "S_LAYER"]
        assert (await client.delete("/api/v1/functions/env2", headers=WRITER)).status_code \
            == 204
        await wait_for(lambda: len(receiver.requests) >= 4, timeout_s=30)
        database = settings.database_url.rsplit("/", 1)[1]

    sources = {"responses": b"\n".join(seen),
               "webhooks": b"\n".join(r.body + repr(r.headers).encode()
                                      for r in receiver.requests),
               "logs": "\n".join(f"{r.getMessage()} {r.__dict__!r}"
                                 for r in caplog.records).encode(),
               "pg_dump": await _pg_dump(database)}
    assert b"S_FN" in sources["pg_dump"]  # the dump holds the names: it is a real one
    for where, raw in sources.items():
        for plain in PLAIN_TEXTS:
            assert plain.encode() not in raw, f"{plain} found in {where}"


async def _pg_dump(database: str) -> bytes:
    proc = await asyncio.create_subprocess_exec(
        "pg_dump", "-h", "127.0.0.1", "-U", "postgres", database,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out


async def test_secrets_survive_a_restart_and_a_key_rotation(
    settings_factory: Callable[..., Any],
) -> None:
    async with running_app(settings_factory(secret_key=K1)) as client:
        await set_up_layers(client)
        assert await invoke_env(client) == EXPECTED
    async with running_app(settings_factory(secret_key=K1)) as client:
        assert await invoke_env(client) == EXPECTED
    # Rotation: the new key seals, the previous one opens what is stored until it is
    # re-sealed, which the start does.
    async with running_app(settings_factory(secret_key=K2, secret_key_previous=K1)) as client:
        assert await invoke_env(client) == EXPECTED
    async with running_app(settings_factory(secret_key=K2)) as client:
        assert await invoke_env(client) == EXPECTED
    # A key that opens nothing stored: the gateway refuses to start, rather than run
    # functions without their secrets.
    with pytest.raises(SecretsUnreadable):
        async with running_app(settings_factory(secret_key=K3)):
            pass


async def test_function_secrets_are_replaced_whole_and_checked(
    client: httpx.AsyncClient,
) -> None:
    r = await create(client, name="env", code=DIGEST_ENV, secrets={"S_A": "1", "S_B": "2"})
    assert r.status_code == 201 and r.json()["secret_names"] == ["S_A", "S_B"]
    r = await client.put("/api/v1/functions/env", headers=WRITER, json={"secrets": {"S_C": "3"}})
    assert r.status_code == 200 and r.json()["secret_names"] == ["S_C"]
    assert await invoke_env(client) == {"S_C": digest("3")}
    r = await client.put("/api/v1/functions/env", headers=WRITER, json={"secrets": {}})
    assert r.json()["secret_names"] == []
    assert await invoke_env(client) == {}
    for bad in ({"S_A": 1}, {"bad name": "x"}, ["S_A"]):
        r = await client.put("/api/v1/functions/env", headers=WRITER, json={"secrets": bad})
        assert assert_error(r, 400, "INVALID_REQUEST")["error"]["details"]["field"] \
            == "secrets"
    for path in ("/api/v1/projects/default/secrets", "/api/v1/secrets/system"):
        assert_error(await client.put(path, headers=ADMIN, json={"data": {"A": 1}}), 400,
                     "INVALID_REQUEST")
        assert_error(await client.put(path, headers=WRITER, json={"data": {}}), 403,
                     "FORBIDDEN")
    assert_error(await client.put("/api/v1/projects/nope/secrets", headers=ADMIN,
                                  json={"data": {}}), 404, "PROJECT_NOT_FOUND")
