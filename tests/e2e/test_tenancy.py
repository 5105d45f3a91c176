"""Two tenants and an operator against ``fngate serve``: tokens from ``fngate token`` with
every scope ``@alpha`` or ``@beta``, and one with them unqualified. Alpha reaches nothing of
beta's through the native API or any compatibility dialect (404, in that API's error
shape), creates nothing in beta and reads nothing system-wide (403); the operator reaches
it all. A secret reaches the function's environment through every API, survives a restart,
and is nowhere else: not in a response body or header, the server's log, ``/metrics``, a
``pg_dump`` of its database, a project's events, nor any webhook delivery (the operator's
or the project's, received on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
from collections import defaultdict
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.serve import Gateway
from tests.tenancy_routes import (
    DIALECT_BETAS,
    DIALECT_SYSTEM,
    FA,
    FS,
    KS,
    NATIVE_BETAS,
    NATIVE_SYSTEM,
    PF,
    World,
    build_world,
    operator_pass,
    unlike,
)

_ALL = ("read:functions", "write:functions", "execute:all", "read:jobs", "admin")

# Plain texts nothing else could hold by chance, new each run.
SYSTEM_SECRET = f"sys-{secrets.token_hex(12)}"
PROJECT_SECRET = f"proj-{secrets.token_hex(12)}"
FUNCTION_SECRET = f"fn-{secrets.token_hex(12)}"
PLAIN = {"S_SYSTEM": SYSTEM_SECRET, "S_PROJECT": PROJECT_SECRET, "S_FUNC": FUNCTION_SECRET}

# Answers digests of what it sees, so the secrets themselves never travel in a result.
DIGEST_ENV = (
    "import hashlib, os\n\n"
    "def handler(event):\n"
    "    print('env read')\n"
    "    return {k: hashlib.sha256(v.encode()).hexdigest() for k, v in os.environ.items()"
    " if k.startswith('S_')}\n"
)
DIGESTS = {name: hashlib.sha256(value.encode()).hexdigest() for name, value in PLAIN.items()}


@pytest.fixture(scope="module")
def server_env() -> dict[str, str]:
    """No rate limits: every route is asked several times by the same three tokens. Webhooks
    may call the test's receiver on 127.0.0.1, and due deliveries are looked for often."""
    return {"FNGATE_RATE_LIMITS": "off", "FNGATE_ALLOW_PRIVATE_CALLBACKS": "true",
            "FNGATE_WEBHOOK_POLL_S": "0.2"}


@pytest.fixture(scope="module")
def tokens(server: Gateway) -> dict[str, dict[str, str]]:
    """``fngate token`` for alpha, beta (every scope qualified) and the operator, minted
    at once."""
    wanted = {"alpha": " ".join(f"{s}@alpha" for s in _ALL),
              "beta": " ".join(f"{s}@beta" for s in _ALL), "operator": " ".join(_ALL)}
    with ThreadPoolExecutor(len(wanted)) as pool:
        minted = {who: pool.submit(server.mint, scopes, sub=who)
                  for who, scopes in wanted.items()}
        return {who: future.result() for who, future in minted.items()}


class Recorder:
    """Every response's raw header and body bytes, as a client received them."""

    def __init__(self) -> None:
        self.raw: list[bytes] = []

    async def __call__(self, response: httpx.Response) -> None:
        await response.aread()
        self.raw.append(b"\n".join(k + b": " + v for k, v in response.headers.raw))
        self.raw.append(response.content)


@pytest.fixture(scope="module")
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture(scope="module")
async def world(server: Gateway, tokens: dict[str, dict[str, str]],
                recorder: Recorder) -> AsyncIterator[World]:
    # A connection per request: the server closes a connection when it answered before a
    # request's body had arrived (every 404 here is decided from the path alone), and a
    # pooled connection closed so fails the next request sent on it.
    async with httpx.AsyncClient(base_url=server.url, timeout=60,
                                 limits=httpx.Limits(max_keepalive_connections=0),
                                 event_hooks={"response": [recorder]}) as client:
        yield await build_world(client, alpha=tokens["alpha"], beta=tokens["beta"],
                                operator=tokens["operator"])


async def test_alpha_reaches_nothing_of_betas_through_any_api(
    world: World, tokens: dict[str, dict[str, str]],
) -> None:
    alpha = tokens["alpha"]
    assert await unlike(world, alpha, [*NATIVE_BETAS, *DIALECT_BETAS], 404) == []
    assert await unlike(world, alpha, [*NATIVE_SYSTEM, *DIALECT_SYSTEM], 403) == []
    # Lists hold alpha's own only, in every API.
    client = world.client
    r = await client.get("/api/v1/functions", headers=alpha)
    assert [f["name"] for f in r.json()["functions"]] == ["a-fn"]
    r = await client.get("/api/v1/projects", headers=alpha)
    assert [p["name"] for p in r.json()["projects"]] == ["alpha"]
    r = await client.get(f"{FA}/functions", headers=alpha)
    assert [f["name"] for f in r.json()["data"]["functions"]] == ["a-fn"]
    r = await client.get(f"{KS}/functions", headers=alpha)
    assert [f["name"] for f in r.json()] == ["a-fn"]
    r = await client.get(f"{PF}/api/v1/projects", headers=alpha)
    assert [p["name"] for p in r.json()["data"]] == ["alpha"]
    r = await client.get(f"{FS}/alpha/functions", headers=alpha)
    assert [f["name"] for f in r.json()["functions"]] == ["a-fn"]
    # Beta's function is whole and still runs for beta.
    r = await client.post("/api/v1/functions/b-fn/invoke", headers=tokens["beta"],
                          json={"still": "mine"})
    assert r.status_code == 200 and r.json()["result"] == {"still": "mine"}, r.text


async def _environment_through_every_api(client: httpx.AsyncClient, alpha: dict[str, str],
                                         function_id: int) -> list[Any]:
    """What the function saw, invoked once through the native API and each dialect."""
    seen = []
    r = await client.post("/api/v1/functions/a-secret/invoke", headers=alpha, json={})
    assert r.status_code == 200, r.text
    seen.append(r.json()["result"])
    r = await client.post(f"{FA}/functions/a-secret/invoke", headers=alpha, json={})
    assert r.status_code == 200, r.text
    seen.append(r.json()["data"]["result"])
    r = await client.post(f"{KS}/functions/a-secret/invoke", headers=alpha, json={})
    assert r.status_code == 200, r.text
    seen.append(r.json())
    r = await client.post(f"{PF}/api/v1/functions/alpha/a-secret/invoke", headers=alpha,
                          json={})
    assert r.status_code == 200, r.text
    seen.append(r.json()["result"])
    r = await client.post(f"{FS}/alpha/functions/func-{function_id}/invoke", headers=alpha,
                          json={"method": "GET"})
    assert r.status_code == 200, r.text
    seen.append(json.loads(base64.b64decode(r.json()["body"])))
    return seen


async def _set_layered_secrets(client: httpx.AsyncClient, *, alpha: dict[str, str],
                               operator: dict[str, str]) -> None:
    """The system secret (by the operator) and alpha's project secret (by alpha)."""
    r = await client.put("/api/v1/secrets/system", headers=operator,
                         json={"data": {"S_SYSTEM": SYSTEM_SECRET}})
    assert r.status_code == 200, r.text
    r = await client.put("/api/v1/projects/alpha/secrets", headers=alpha,
                         json={"data": {"S_PROJECT": PROJECT_SECRET}})
    assert r.status_code == 200, r.text


async def _pg_dump(dsn: str) -> bytes:
    proc = await asyncio.create_subprocess_exec(
        "pg_dump", dsn, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out


async def test_a_secret_reaches_the_function_survives_a_restart_and_is_nowhere_else(
    server: Gateway, world: World, tokens: dict[str, dict[str, str]], recorder: Recorder,
    module_database: str,
) -> None:
    client, alpha, operator = world.client, tokens["alpha"], tokens["operator"]
    await _set_layered_secrets(client, alpha=alpha, operator=operator)
    r = await client.post("/api/v1/functions", headers=alpha, json={
        "name": "a-secret", "runtime": "python", "code": DIGEST_ENV, "project": "alpha",
        "secrets": {"S_FUNC": FUNCTION_SECRET}})
    assert r.status_code == 201, r.text
    assert r.json()["secret_names"] == ["S_FUNC"]
    function_id = int(r.json()["id"])
    assert await _environment_through_every_api(client, alpha, function_id) == [DIGESTS] * 5

    # Everything that shows the function, its project, its runs and the gateway.
    job_id = (await client.post("/api/v1/functions/a-secret/invoke", headers=alpha,
                                json={})).headers["x-job-id"]
    for path, headers in [
        ("/api/v1/functions/a-secret", alpha), ("/api/v1/functions?project=alpha", alpha),
        ("/api/v1/projects/alpha", alpha), ("/api/v1/projects/alpha/secrets", alpha),
        ("/api/v1/projects/alpha/env", alpha), ("/api/v1/secrets/system", operator),
        ("/api/v1/functions/a-secret/events", alpha), ("/api/v1/functions/a-secret/logs", alpha),
        (f"/api/v1/jobs/{job_id}", alpha), (f"/api/v1/jobs/{job_id}/logs", alpha),
        (f"{FA}/functions/a-secret", alpha), (f"{KS}/functions/a-secret", alpha),
        (f"{PF}/api/v1/functions/alpha/a-secret", alpha), (f"{PF}/api/v1/projects/alpha", alpha),
        (f"{FS}/alpha/functions/func-{function_id}", alpha),
        (f"{FS}/alpha/functions/func-{function_id}/events", alpha),
        ("/metrics", {}),
    ]:
        r = await client.get(path, headers=headers)
        assert r.status_code == 200, (path, r.text)
    r = await client.get("/api/v1/projects/alpha/secrets", headers=alpha)
    assert r.json()["names"] == ["S_PROJECT"]

    # A restart: the secrets are read back from the database, sealed as they were stored.
    await asyncio.to_thread(server.stop)
    await asyncio.to_thread(server.start)
    assert await _environment_through_every_api(client, alpha, function_id) == [DIGESTS] * 5
    metrics = await client.get("/metrics")
    assert b"a-secret" in metrics.content  # the function ran and is counted

    sources = {"responses": b"\n".join(recorder.raw), "metrics": metrics.content,
               "server log": server.log_path.read_bytes(),
               "pg_dump": await _pg_dump(module_database)}
    assert b"S_PROJECT" in sources["pg_dump"] and b"S_FUNC" in sources["pg_dump"]  # real
    assert sources["server log"].count(b"fngate listening on") == 2  # both runs' log
    found = [(name, where) for name, plain in PLAIN.items() for where, raw in sources.items()
             if plain.encode() in raw]
    assert found == []


class Receiver:
    """A webhook receiver on 127.0.0.1: every request's raw bytes (request line, headers
    and body, as they came off the socket), by path; answers 204."""

    def __init__(self) -> None:
        self.raw: dict[str, list[bytes]] = defaultdict(list)
        self.url = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                self.raw[head.split(b" ", 2)[1].decode()].append(head + body)
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the sender closed its connection
        finally:
            writer.close()

    def events(self, path: str) -> list[tuple[str, str]]:
        """``(event, function name)`` of each delivery received on ``path``."""
        seen = []
        for raw in self.raw[path]:
            body = json.loads(raw.partition(b"\r\n\r\n")[2])
            data = body["data"]
            seen.append((body["event"], data.get("function_name") or data["name"]))
        return seen


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    receiver.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    async with server:
        yield receiver


# Knows it holds the secrets by their names only: its results and errors never carry a value.
HOLDER = (
    "import os\n\n"
    "def handler(event):\n"
    "    held = sorted(k for k in os.environ if k.startswith('S_'))\n"
    "    if event.get('fail'):\n"
    "        raise RuntimeError('asked to fail, holding ' + ','.join(held))\n"
    "    print('holding', held)\n"
    "    return {'held': held}\n"
)
_HOOK_EVENTS = ["function.created", "function.deployed", "function.deleted", "job.succeeded",
                "job.failed"]


async def test_no_webhook_delivery_or_project_event_carries_a_secret(
    world: World, tokens: dict[str, dict[str, str]], receiver: Receiver,
    module_database: str,
) -> None:
    client, alpha, beta = world.client, tokens["alpha"], tokens["beta"]
    operator = tokens["operator"]
    for path, headers, project in [("/operator", operator, None), ("/alpha", alpha, "alpha"),
                                   ("/beta", beta, "beta")]:
        r = await client.post("/api/v1/webhooks", headers=headers, json={
            "url": receiver.url + path, "events": _HOOK_EVENTS, "secret": "hook-key",
            **({"project": project} if project else {})})
        assert r.status_code == 201, r.text
    beta_hook = int(r.json()["id"])
    await _set_layered_secrets(client, alpha=alpha, operator=operator)

    # Created and deployed (version 1), deployed again by an update that sets the secret,
    # a sync run that succeeds and one that fails, an async run, deleted.
    r = await client.post("/api/v1/functions", headers=alpha, json={
        "name": "a-hook", "runtime": "python", "code": HOLDER, "project": "alpha",
        "secrets": {"S_FUNC": "not-yet"}})
    assert r.status_code == 201, r.text
    r = await client.put("/api/v1/functions/a-hook", headers=alpha, json={
        "code": HOLDER + "# v2\n", "secrets": {"S_FUNC": FUNCTION_SECRET}})
    assert r.status_code == 200, r.text
    jobs = []
    r = await client.post("/api/v1/functions/a-hook/invoke", headers=alpha, json={})
    assert r.status_code == 200, r.text
    assert r.json()["result"] == {"held": ["S_FUNC", "S_PROJECT", "S_SYSTEM"]}  # it has them
    jobs.append(r.headers["x-job-id"])
    r = await client.post("/api/v1/functions/a-hook/invoke", headers=alpha,
                          json={"fail": True})
    assert r.status_code == 200 and r.json()["status"] == "failed", r.text
    jobs.append(r.headers["x-job-id"])
    r = await client.post("/api/v1/functions/a-hook/invoke-async", headers=alpha, json={})
    assert r.status_code == 202, r.text
    jobs.append(r.json()["id"])
    for _ in range(300):  # the async job runs before its function is deleted
        r = await client.get(f"/api/v1/jobs/{jobs[-1]}", headers=alpha)
        if r.json()["status"] == "success":
            break
        await asyncio.sleep(0.1)
    assert r.json()["status"] == "success", r.text
    r = await client.delete("/api/v1/functions/a-hook", headers=alpha)
    assert r.status_code == 204, r.text
    # Beta's own run, so beta's receiver is shown to work.
    r = await client.post("/api/v1/functions/b-fn/invoke", headers=beta, json={"hook": 1})
    assert r.status_code == 200, r.text

    expected = sorted([("function.created", "a-hook"), ("function.deployed", "a-hook"),
                       ("function.deployed", "a-hook"), ("job.succeeded", "a-hook"),
                       ("job.succeeded", "a-hook"), ("job.failed", "a-hook"),
                       ("function.deleted", "a-hook")])

    def arrived() -> bool:
        mine = [sorted(e for e in receiver.events(p) if e[1] == "a-hook")
                for p in ("/operator", "/alpha")]
        return mine == [expected, expected] and ("job.succeeded", "b-fn") in \
            receiver.events("/beta")

    for _ in range(300):
        if arrived():
            break
        await asyncio.sleep(0.1)
    assert sorted(e for e in receiver.events("/alpha") if e[1] == "a-hook") == expected
    assert sorted(e for e in receiver.events("/operator") if e[1] == "a-hook") == expected
    assert {name for _, name in receiver.events("/beta")} == {"b-fn"}
    # ... and none of alpha's was even queued for beta's webhook.
    conn = await asyncpg.connect(module_database)
    try:
        queued_for_beta = await conn.fetchval(
            "SELECT count(*) FROM webhook_deliveries WHERE webhook_id = $1"
            " AND (payload ->> 'name' = 'a-hook' OR job_id = ANY($2::uuid[]))", beta_hook, jobs)
    finally:
        await conn.close()
    assert queued_for_beta == 0

    r = await client.get("/api/v1/projects/alpha/events", headers=alpha)
    assert r.status_code == 200, r.text
    assert b"S_PROJECT" in r.content  # the secret's change is there, by name
    sources = {f"deliveries to {path}": b"\n".join(raw) for path, raw in receiver.raw.items()}
    sources["project events"] = b"\n".join(k + b": " + v for k, v in r.headers.raw) + r.content
    found = [(name, where) for name, plain in PLAIN.items() for where, raw in sources.items()
             if plain.encode() in raw]
    assert found == []


async def test_the_operator_reaches_everything_of_every_project(
    world: World, tokens: dict[str, dict[str, str]],
) -> None:
    rows = [*NATIVE_BETAS, *NATIVE_SYSTEM, *DIALECT_BETAS, *DIALECT_SYSTEM]
    assert await operator_pass(world, tokens["operator"], tokens["beta"], rows) == []
