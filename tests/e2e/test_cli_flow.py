"""The CLI as a new user runs it, against a real ``fngate serve``: log in, scaffold a
function, deploy it, invoke it, read its logs (issue 14's "Done when"); and
``fngate_client`` installed alone in a fresh virtualenv, working without the gateway's
dependencies."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.e2e.serve import Gateway, clean_env, fngate_argv

ROOT = Path(__file__).resolve().parents[2]


def _fngate(*args: str, cwd: Path, env: dict[str, str], stdin: str | None = None,
            ) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*fngate_argv(), *args], cwd=cwd, env=env, input=stdin,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result


def test_init_deploy_invoke_logs(server: Gateway, module_dir: Path) -> None:
    home = module_dir / "user"
    home.mkdir()
    env = clean_env(XDG_CONFIG_HOME=str(home / "config"))
    token = server.mint()["Authorization"].removeprefix("Bearer ")
    _fngate("login", "--url", server.url, "--token-stdin", cwd=home, env=env, stdin=token)
    config = home / "config" / "fngate" / "config.toml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600

    _fngate("init", "hello", "--runtime", "python", cwd=home, env=env)
    folder = home / "hello"
    local = subprocess.run([sys.executable, "test_handler.py"], cwd=folder,
                           capture_output=True, text=True, timeout=60)
    assert local.returncode == 0 and local.stdout.endswith("ok\n"), local.stderr
    deployed = _fngate("deploy", cwd=folder, env=env)
    assert deployed.stdout.splitlines()[0] == "hello: created (version 1)"
    invoked = _fngate("invoke", "hello", "--data", '{"x":1}', cwd=folder, env=env)
    assert json.loads(invoked.stdout) == {"hello": "world", "event": {"x": 1}}
    logs = _fngate("logs", "hello", cwd=folder, env=env)
    assert logs.stdout.rstrip().endswith("greeting world"), logs.stdout
    assert _fngate("deploy", cwd=folder, env=env).stdout.strip() == "hello: unchanged"


_CLIENT_SCRIPT = """
import importlib.util, sys
from fngate_client import Client, NotFound
missing = [m for m in ("gateway", "starlette", "asyncpg", "pgserver", "hypercorn")
           if importlib.util.find_spec(m) is not None]
assert not missing, missing
url, token = sys.argv[1], sys.argv[2]
with Client(url, token=token) as fn:
    fn.create_function(name="venv-echo", runtime="python",
                       code="def handler(event):\\n    return event\\n")
    job = fn.invoke_function("venv-echo", data={"message": "test"})
    assert job.status == "success" and job.result == {"message": "test"}, job
    done = fn.wait_job(fn.invoke_async("venv-echo", {"n": 2}).id, timeout_s=120)
    assert done.result == {"n": 2}, done
    fn.delete_function("venv-echo")
    try:
        fn.get_function("venv-echo")
    except NotFound as exc:
        print(exc.code)
"""


def test_the_client_installs_and_works_without_the_gateways_dependencies(
        server: Gateway, module_dir: Path) -> None:
    venv = module_dir / "client-venv"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
         str(ROOT / "clients" / "python")],
        capture_output=True, text=True, timeout=600, env={**os.environ, "PIP_USER": "0"})
    assert installed.returncode == 0, installed.stderr
    token = server.mint()["Authorization"].removeprefix("Bearer ")
    ran = subprocess.run([str(python), "-c", _CLIENT_SCRIPT, server.url, token],
                         capture_output=True, text=True, timeout=300, cwd=module_dir)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "FUNCTION_NOT_FOUND"
