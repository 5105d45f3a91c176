"""Two tenants and an operator against ``fngate serve``: tokens from ``fngate token`` with
every scope ``@alpha`` or ``@beta``, and one with them unqualified. Alpha reaches nothing of
beta's through the native API or any compatibility dialect (404, in that API's error
shape), creates nothing in beta and reads nothing system-wide (403); the operator reaches
it all. A secret reaches the function's environment through every API, survives a restart,
and is nowhere else: not in a response body or header, the server's log, ``/metrics``, nor
a ``pg_dump`` of its database."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

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
    """No rate limits: every route is asked several times by the same three tokens."""
    return {"FNGATE_RATE_LIMITS": "off"}


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
    r = await client.put("/api/v1/secrets/system", headers=operator,
                         json={"data": {"S_SYSTEM": SYSTEM_SECRET}})
    assert r.status_code == 200, r.text
    r = await client.put("/api/v1/projects/alpha/secrets", headers=alpha,
                         json={"data": {"S_PROJECT": PROJECT_SECRET}})
    assert r.status_code == 200, r.text
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


async def test_the_operator_reaches_everything_of_every_project(
    world: World, tokens: dict[str, dict[str, str]],
) -> None:
    rows = [*NATIVE_BETAS, *NATIVE_SYSTEM, *DIALECT_BETAS, *DIALECT_SYSTEM]
    assert await operator_pass(world, tokens["operator"], tokens["beta"], rows) == []
