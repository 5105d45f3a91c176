"""The ``fngate`` client commands and ``fngate_client`` against a live gateway: the app
served over HTTP by Hypercorn in a thread of this process (the CLI and the blocking client
need a socket), on the test's own database; the asyncio client in-process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result
from hypercorn.asyncio import serve
from hypercorn.config import Config

from fngate_client import AsyncClient, Client, Conflict, InvalidRequest, NotFound
from gateway.app import create_app
from gateway.cli.main import cli
from tests.conftest import token
from tests.e2e.serve import ADMIN_SCOPES, free_port, poll

BOOM = "def handler(event):\n    raise ValueError('bad input')\n"


@contextlib.contextmanager
def served(settings: Any) -> Iterator[str]:
    """The app on a loopback port (its lifespan run by Hypercorn) until the block ends."""
    app, port = create_app(settings), free_port()
    config = Config()
    config.bind, config.accesslog, config.graceful_timeout = [f"127.0.0.1:{port}"], None, 2.0
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        box["loop"], box["stop"] = asyncio.get_running_loop(), asyncio.Event()
        ready.set()
        await serve(app, config, shutdown_trigger=box["stop"].wait)  # type: ignore[arg-type]

    thread = threading.Thread(target=asyncio.run, args=(main(),), name="served-gateway")
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        assert ready.wait(30)
        poll(lambda: _ready(url), timeout_s=60, what="served gateway ready")
        yield url
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(60)
        assert not thread.is_alive(), "the served gateway did not stop"


def _ready(url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(url + "/ready", timeout=2).status_code == 200
    return False


@pytest.fixture
def gateway_url(settings_factory: Callable[..., Any]) -> Iterator[str]:
    with served(settings_factory()) as url:
        yield url


@pytest.fixture
def fngate(gateway_url: str, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Run ``fngate ARGS`` in ``tmp_path`` against the gateway, as an admin."""
    monkeypatch.chdir(tmp_path)
    env = {"FNGATE_URL": gateway_url, "FNGATE_TOKEN": token(ADMIN_SCOPES),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "FNGATE_PROFILE": None}

    def run(*args: str, code: int = 0, stdin: str | None = None) -> Result:
        result = CliRunner().invoke(cli, list(args), env=env, input=stdin,
                                    catch_exceptions=False)
        assert result.exit_code == code, (args, result.stdout, result.stderr)
        assert "Traceback (most recent call last):\n" not in result.stderr  # ours, unescaped
        return result

    return run


def test_deploy_is_idempotent_and_reconciles_triggers(fngate: Callable[..., Result],
                                                      gateway_url: str) -> None:
    fngate("init", "hello", "--runtime", "python")
    manifest = Path("hello/fngate.toml")
    manifest.write_text(manifest.read_text() + '[function.environment]\nWHO = "${WHO}"\n'
                        '[[function.triggers]]\ntype = "http"\npath = "/hello-cli"\n')
    fngate("deploy", "hello", code=1)  # ${WHO} is not set: said, nothing deployed
    with Client(gateway_url, token=token(ADMIN_SCOPES)) as client:
        with pytest.raises(NotFound):
            client.get_function("hello")
        anonymous = {"WHO": "ci", "FNGATE_URL": gateway_url, "FNGATE_TOKEN": "",
                     "XDG_CONFIG_HOME": "/nonexistent"}
        first = CliRunner().invoke(cli, ["deploy", "hello"], env=anonymous)
        assert first.exit_code == 1 and "UNAUTHORIZED (401)" in first.stderr, first.stderr
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("WHO", "ci")
            created = fngate("deploy", "hello")
            assert "hello: created (version 1)" in created.stdout
            assert "+ trigger http /hello-cli" in created.stdout
            again = fngate("deploy", "hello")
            assert again.stdout.strip() == "hello: unchanged"
            assert len(client.list_versions("hello")) == 1
            assert client.get_function("hello").environment == {"WHO": "ci"}

            handler = Path("hello/handler.py")
            handler.write_text(handler.read_text().replace("greeting", "hi"))
            manifest.write_text(manifest.read_text().replace("/hello-cli", "/hello-v2"))
            plan = fngate("deploy", "hello", "--dry-run")
            assert "hello: would be updated code" in plan.stdout
            assert len(client.list_versions("hello")) == 1
            changed = json.loads(fngate("deploy", "hello", "--json").stdout)
            assert changed == [{"name": "hello", "action": "update", "changed": ["code"],
                                "version": 2, "build_status": "success", "triggers": [
                                    {"action": "add", "trigger": "http /hello-v2"},
                                    {"action": "remove", "trigger": "http /hello-cli"}]}]
        [trigger] = client.list_triggers("hello")
        assert trigger.type == "http" and trigger.config.path == "/hello-v2"


def test_commands_run_functions_and_fail_with_the_apis_error(fngate: Callable[..., Result],
                                                             gateway_url: str) -> None:
    with Client(gateway_url, token=token(ADMIN_SCOPES)) as client:
        client.create_function("hello", "python", code=(
            "def handler(event):\n    print('greeting', event.get('name'))\n"
            "    return {'hello': event.get('name')}\n"))
        client.create_function("boom", "python", code=BOOM)

    ran = fngate("invoke", "hello", "--data", '{"name": "Ada"}')
    assert json.loads(ran.stdout) == {"hello": "Ada"} and "success" in ran.stderr
    Path("event.json").write_text('{"name": "File"}')
    job = json.loads(fngate("invoke", "hello", "--data", "@event.json", "--json").stdout)
    assert job["status"] == "success" and job["result"] == {"hello": "File"}
    waited = fngate("invoke", "hello", "--async", "--wait", "--idempotency-key", "k1",
                    stdin='{"name": "Queued"}')
    assert json.loads(waited.stdout) == {"hello": "Queued"}
    failed = fngate("invoke", "boom", code=1)
    assert "RUNTIME_ERROR: bad input" in failed.stderr and '"type": "ValueError"' in failed.stderr
    missing = fngate("--json", "invoke", "nope", code=1)
    assert json.loads(missing.stdout)["error"]["code"] == "FUNCTION_NOT_FOUND"
    assert "error: FUNCTION_NOT_FOUND (404): function 'nope' does not exist" in missing.stderr
    fngate("invoke", "hello", "--data", "{bad", code=2)

    assert "greeting Ada" in fngate("logs", "hello", "--since", "10m").stdout
    jobs = json.loads(fngate("jobs", "hello", "--json").stdout)
    assert len(jobs) == 3 and {j["status"] for j in jobs} == {"success"}
    followed = fngate("logs", "hello", "--follow", "--job", jobs[-1]["id"], "--json").stdout
    assert [json.loads(line)["message"] for line in followed.splitlines()] == ["greeting Ada"]
    boom_job = json.loads(fngate("jobs", "boom", "--json").stdout)[0]["id"]
    fngate("job", boom_job, "--logs", code=1)
    assert json.loads(fngate("job", jobs[0]["id"], "--json").stdout)["id"] == jobs[0]["id"]

    assert "boom" in fngate("functions", "ls").stdout
    assert json.loads(fngate("functions", "get", "hello", "--json").stdout)["name"] == "hello"
    metrics = json.loads(fngate("metrics", "boom", "--json").stdout)
    assert metrics["invocations"]["failed"] == 1
    fngate("triggers", "add", "hello", "cron", '{"schedule": "0 0 1 1 *"}', "--name", "yearly")
    [cron] = json.loads(fngate("triggers", "ls", "hello", "--json").stdout)
    assert cron["name"] == "yearly"
    fngate("triggers", "rm", "hello", str(cron["id"]))
    fngate("rollback", "hello", code=1)  # one version only: 409, said

    session = fngate("sessions", "init", "hello").stdout.strip()
    executed = fngate("sessions", "exec", session, "--params", '{"name": "S"}', "--json")
    assert json.loads(executed.stdout)["result"] == {"hello": "S"}
    assert "1 executions" in fngate("sessions", "get", session).stdout
    fngate("sessions", "close", session)
    fngate("functions", "rm", "boom")
    fngate("functions", "get", "boom", code=1)


def test_login_stores_a_private_profile_that_later_commands_use(
        fngate: Callable[..., Result], gateway_url: str, tmp_path: Path) -> None:
    fngate("login", "--url", gateway_url, "--token", "not-a-jwt", code=1)
    fngate("--profile", "ci", "login", "--url", gateway_url, "--token-stdin",
           stdin=token(ADMIN_SCOPES) + "\n")
    path = tmp_path / "config" / "fngate" / "config.toml"
    assert path.stat().st_mode & 0o777 == 0o600
    plain = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "FNGATE_URL": None,
             "FNGATE_TOKEN": None}
    listed = CliRunner().invoke(cli, ["-p", "ci", "functions", "ls", "--json"], env=plain)
    assert listed.exit_code == 0 and json.loads(listed.stdout) == [], listed.stderr


async def test_the_async_client_covers_the_routes_in_process(client: httpx.AsyncClient) -> None:
    transport = httpx.ASGITransport(app=client.app)  # type: ignore[attr-defined]
    async with AsyncClient("http://fngate.test", token=token(ADMIN_SCOPES),
                           transport=transport) as fn:
        made = await fn.create_function("echo", "python",
                                        code="def handler(e):\n    print('got', e)\n"
                                             "    return e\n")
        assert (await fn.get_function(made.id)).name == "echo"
        job = await fn.invoke_function(made.id, data={"message": "test"})
        assert job.status == "success" and job.result == {"message": "test"}
        pending = await fn.invoke_async("echo", {"n": 1}, idempotency_key="once")
        again = await fn.invoke_async("echo", {"n": 1}, idempotency_key="once")
        assert again.id == pending.id
        done = await fn.wait_job(pending.id, timeout_s=60, interval_s=0.1)
        assert done.result == {"n": 1}
        assert [line.message for line in await fn.job_logs(done.id)] == ["got {'n': 1}"]
        updated = await fn.update_function("echo", code="def handler(e):\n    return 2\n")
        assert updated.active_version == 2 and len(await fn.list_versions("echo")) == 2
        assert (await fn.rollback("echo")).active_version == 1
        with pytest.raises(Conflict) as conflict:
            await fn.rollback("echo")
        assert conflict.value.status == 409 and conflict.value.details["active_version"] == 1
        with pytest.raises(InvalidRequest) as bad:
            await fn.create_function("x", "cobol", code="")
        assert bad.value.code in ("INVALID_RUNTIME", "INVALID_REQUEST")
        trigger = await fn.create_trigger("echo", "http", {"path": "/echo-async"})
        assert [t.id for t in await fn.list_triggers("echo")] == [trigger.id]
        assert [e.type for e in await fn.function_events("echo")][-1] == "created"
        metrics = await fn.function_metrics("echo", since="1h")
        assert metrics.invocations.total == 2
        project = await fn.create_project("shop", description="d")
        assert project.name == "shop"
        assert await fn.set_project_env("shop", {"A": "1"}) == {"A": "1"}
        assert await fn.list_webhooks() == []
        assert (await fn.health()).status in ("ok", "degraded")
        await fn.delete_function("echo")
        with pytest.raises(NotFound):
            await fn.get_function("echo")
