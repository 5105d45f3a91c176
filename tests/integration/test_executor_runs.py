"""What one call does in each runtime: handler forms, context, logs, errors, limits."""

from __future__ import annotations

import itertools
import os
import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

import config
from executors import CallContext, CodeSpec, ExecutionResult, LogLine, WorkerPools

_ids = itertools.count(1000)
RUNTIMES = ["python", "nodejs"]
MAX_LOG_BYTES = 4096
MAX_RESULT_BYTES = 100_000


@pytest_asyncio.fixture(scope="module")
async def pools(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[WorkerPools]:
    # Set before the pool exists: workers must not inherit it even so.
    os.environ["FNGATE_SECRET_TEST"] = "x"
    settings = config.load(
        {},
        data_dir=str(tmp_path_factory.mktemp("data")),
        worker_idle_ttl_s=60.0,
        prewarm_per_runtime=2,
        max_log_bytes=MAX_LOG_BYTES,
        max_result_bytes=MAX_RESULT_BYTES,
    )
    p = WorkerPools(settings)
    await p.start()
    try:
        yield p
    finally:
        await p.close()
        os.environ.pop("FNGATE_SECRET_TEST", None)


def spec(runtime: str, code: str, **kw: Any) -> CodeSpec:
    return CodeSpec(
        function_id=next(_ids),
        function_name="fn",
        version=1,
        runtime=runtime,  # type: ignore[arg-type]
        code=code,
        **kw,
    )


def ctx(**extra: Any) -> CallContext:
    return CallContext(
        job_id="job-1",
        function_name="fn",
        version=1,
        trigger="http",
        deadline_ms=int(time.time() * 1000) + 10_000,
        sub="alice",
        extra=extra,
    )


async def run(
    pools: WorkerPools, s: CodeSpec, event: Any = None, timeout_ms: int = 5000, **kw: Any
) -> ExecutionResult:
    return await pools.run(s, event, ctx(**kw.pop("extra", {})), timeout_ms=timeout_ms, **kw)


HANDLER_FORMS = [
    ("python", "def handler(event, context):\n    return {'got': event, 'ctx': context.job_id}\n"),
    ("python", "def handler(event):\n    return {'got': event, 'ctx': 'job-1'}\n"),
    (
        "python",
        "import asyncio\nasync def handler(event, context):\n"
        "    await asyncio.sleep(0.01)\n    return {'got': event, 'ctx': context.job_id}\n",
    ),
    ("python", "async def handler(event):\n    return {'got': event, 'ctx': 'job-1'}\n"),
    (
        "nodejs",
        "module.exports.handler = async (event, context) => {\n"
        "  await new Promise((r) => setTimeout(r, 10));\n"
        "  return { got: event, ctx: context.job_id };\n};\n",
    ),
    ("nodejs", "exports.handler = (event, context) => ({ got: event, ctx: context.job_id });\n"),
    ("nodejs", "function handler(event) {\n  return { got: event, ctx: 'job-1' };\n}\n"),
    (
        "nodejs",
        "async function handler(event, context) {\n"
        "  return { got: event, ctx: context.job_id };\n}\n",
    ),
]


@pytest.mark.parametrize(("runtime", "code"), HANDLER_FORMS)
async def test_every_handler_form_runs(pools: WorkerPools, runtime: str, code: str) -> None:
    r = await run(pools, spec(runtime, code), {"n": 1})
    assert r.ok, r.error
    assert r.result == {"got": {"n": 1}, "ctx": "job-1"}


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_event_round_trips_unchanged(pools: WorkerPools, runtime: str) -> None:
    code = {
        "python": "def handler(event):\n    return event\n",
        "nodejs": "exports.handler = (event) => event;\n",
    }[runtime]
    event = {"s": 'héllo ✓ "q" \n', "i": -12, "f": 1.5, "n": None, "b": True, "l": [1, [2, {}]]}
    r = await run(pools, spec(runtime, code), event)
    assert r.ok, r.error
    assert r.result == event
    assert r.duration_ms > 0 and r.cpu_ms is not None and r.max_rss_bytes


CONTEXT_CODE = {
    "python": (
        "def handler(event, context):\n"
        "    return {'job_id': context.job_id, 'function_name': context.function_name,\n"
        "            'version': context.version, 'trigger': context.trigger,\n"
        "            'deadline_ms': context.deadline_ms, 'remaining': context.remaining_ms(),\n"
        "            'sub': context.sub, 'user_id': context.user_id, 'flag': context.flag}\n"
    ),
    "nodejs": (
        "exports.handler = (event, context) => ({ job_id: context.job_id,\n"
        "  function_name: context.function_name, version: context.version,\n"
        "  trigger: context.trigger, deadline_ms: context.deadline_ms,\n"
        "  remaining: context.remaining_ms(), sub: context.sub, user_id: context.user_id,\n"
        "  flag: context.flag });\n"
    ),
}


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_context_has_call_facts_and_extra_keys(pools: WorkerPools, runtime: str) -> None:
    c = ctx(user_id="u-7", flag=[1, 2])
    r = await pools.run(spec(runtime, CONTEXT_CODE[runtime]), {}, c, timeout_ms=5000)
    assert r.ok, r.error
    res = r.result
    assert res["job_id"] == "job-1" and res["function_name"] == "fn" and res["version"] == 1
    assert res["trigger"] == "http" and res["deadline_ms"] == c.deadline_ms
    assert 0 < res["remaining"] <= 10_000
    assert res["sub"] == "alice" and res["user_id"] == "u-7" and res["flag"] == [1, 2]


PRINT_CODE = {
    "python": (
        "import sys\n"
        "def handler(event):\n"
        "    print('first line')\n"
        "    sys.stderr.write('to stderr\\n')\n"
        "    sys.stdout.write('partial ')\n"
        "    print('end', 42)\n"
        "    return 'result only'\n"
    ),
    "nodejs": (
        "exports.handler = async () => {\n"
        "  console.log('first line');\n"
        "  console.error('to stderr');\n"
        "  process.stdout.write('partial ');\n"
        "  console.log('end', 42);\n"
        "  return 'result only';\n};\n"
    ),
}


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_prints_go_to_logs_in_order_not_to_result(pools: WorkerPools, runtime: str) -> None:
    seen: list[LogLine] = []
    r = await run(pools, spec(runtime, PRINT_CODE[runtime]), on_log=seen.append)
    assert r.ok, r.error
    assert r.result == "result only"
    assert [(ln.stream, ln.message) for ln in r.logs] == [
        ("stdout", "first line"),
        ("stderr", "to stderr"),
        ("stdout", "partial end 42"),
    ]
    assert list(r.logs) == seen
    assert not r.logs_truncated


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_each_call_gets_only_its_own_logs(pools: WorkerPools, runtime: str) -> None:
    code = {
        "python": "def handler(event):\n    print('call', event)\n    return event\n",
        "nodejs": "exports.handler = (event) => { console.log('call', event); return event; };\n",
    }[runtime]
    s = spec(runtime, code)
    first = await run(pools, s, 1)
    second = await run(pools, s, 2)
    assert [ln.message for ln in first.logs] == ["call 1"]
    assert [ln.message for ln in second.logs] == ["call 2"]
    assert second.cold_start is False


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_logs_are_capped_per_call(pools: WorkerPools, runtime: str) -> None:
    code = {
        "python": (
            "def handler(e):\n"
            "    for i in range(2000):\n        print('line', i)\n    return 'ok'\n"
        ),
        "nodejs": (
            "exports.handler = () => {\n"
            "  for (let i = 0; i < 2000; i++) console.log('line', i);\n  return 'ok';\n};\n"
        ),
    }[runtime]
    s = spec(runtime, code)
    r = await run(pools, s)
    assert r.ok and r.result == "ok"
    assert r.logs_truncated
    assert sum(len(ln.message) + 1 for ln in r.logs) <= MAX_LOG_BYTES
    assert r.logs[0].message == "line 0"
    r2 = await run(pools, s)  # per call, not per worker
    assert r2.logs[0].message == "line 0"


ERROR_CODE = {
    "python": (
        "def helper(x):\n"
        "    raise ValueError('bad value: %d' % x)\n"
        "def handler(event):\n"
        "    return helper(3)\n"
    ),
    "nodejs": (
        "function helper(x) {\n"
        "  throw new TypeError('bad value: ' + x);\n"
        "}\n"
        "exports.handler = async (event) => helper(3);\n"
    ),
}


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_exception_reports_type_message_and_user_line(
    pools: WorkerPools, runtime: str
) -> None:
    r = await run(pools, spec(runtime, ERROR_CODE[runtime]))
    assert r.failure == "RUNTIME_ERROR"
    assert r.error is not None
    assert r.error.type == ("ValueError" if runtime == "python" else "TypeError")
    assert r.error.message == "bad value: 3"
    assert r.error.line == 2
    trace = r.error.stack_trace or ""
    assert ("handler.py" if runtime == "python" else "index.js") in trace
    assert "runner" not in trace and "<string>" not in trace and "[eval]" not in trace


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_syntax_error_is_a_runtime_error_with_its_line(
    pools: WorkerPools, runtime: str
) -> None:
    code = {
        "python": "x = 1\n\ndef handler(event)\n    return 1\n",
        "nodejs": "const x = 1;\n\nexports.handler = (event => { return 1; };\n",
    }[runtime]
    s = spec(runtime, code)
    r = await run(pools, s)
    assert r.failure == "RUNTIME_ERROR"
    assert r.error is not None and r.error.type == "SyntaxError"
    assert r.error.line == 3
    r2 = await run(pools, s)  # the loaded (broken) worker answers again the same way
    assert r2.error is not None and r2.error.type == "SyntaxError"


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_missing_handler_is_handler_not_found(pools: WorkerPools, runtime: str) -> None:
    code = {"python": "def main(event):\n    return 1\n", "nodejs": "exports.main = () => 1;\n"}[
        runtime
    ]
    r = await run(pools, spec(runtime, code))
    assert r.failure == "RUNTIME_ERROR"
    assert r.error is not None and r.error.type == "HandlerNotFound"
    r = await run(pools, spec(runtime, code, handler="main"))
    assert r.ok and r.result == 1


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_non_json_result_is_invalid_result(pools: WorkerPools, runtime: str) -> None:
    code = {
        "python": "def handler(event):\n    return {'x': object()}\n",
        "nodejs": "exports.handler = () => ({ x: 10n });\n",
    }[runtime]
    r = await run(pools, spec(runtime, code))
    assert r.failure == "RUNTIME_ERROR"
    assert r.error is not None and r.error.type == "InvalidResult"


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_oversized_result_is_result_too_large(pools: WorkerPools, runtime: str) -> None:
    code = {
        "python": f"def handler(event):\n    return 'x' * {MAX_RESULT_BYTES * 2}\n",
        "nodejs": f"exports.handler = () => 'x'.repeat({MAX_RESULT_BYTES * 2});\n",
    }[runtime]
    r = await run(pools, spec(runtime, code))
    assert r.error is not None and r.error.type == "ResultTooLarge"


SLEEP_CODE = {
    "python": (
        "import os, time\nTOKEN = os.urandom(8).hex()  # one per worker process\n"
        "def handler(event):\n    time.sleep(event['s'])\n    return TOKEN\n"
    ),
    "nodejs": (
        "const TOKEN = require('crypto').randomBytes(8).toString('hex');\n"
        "exports.handler = async (event) => {\n"
        "  await new Promise((r) => setTimeout(r, event.s * 1000));\n"
        "  return TOKEN;\n};\n"
    ),
}


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_timeout_kills_worker_and_next_call_works(pools: WorkerPools, runtime: str) -> None:
    s = spec(runtime, SLEEP_CODE[runtime])
    first = await run(pools, s, {"s": 0})
    assert first.ok
    started = time.monotonic()
    r = await run(pools, s, {"s": 30}, timeout_ms=300)
    assert time.monotonic() - started < 5
    assert r.failure == "TIMEOUT"
    assert r.error is not None and r.error.type == "Timeout"
    again = await run(pools, s, {"s": 0})
    assert again.ok, again.error
    assert again.result != first.result  # a fresh worker
    assert again.cold_start


HOG_CODE = {
    "python": "def handler(event):\n    b = b'x' * (400 * 1024 * 1024)\n    return len(b)\n",
    "nodejs": "exports.handler = () => Buffer.alloc(400 * 1024 * 1024, 1).length;\n",
}


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_memory_hog_is_out_of_memory_and_pool_still_works(
    pools: WorkerPools, runtime: str
) -> None:
    r = await run(pools, spec(runtime, HOG_CODE[runtime], memory_mb=64), timeout_ms=10_000)
    assert r.failure == "RUNTIME_ERROR"
    assert r.error is not None and r.error.type == "OutOfMemory", r.error
    ok = await run(pools, spec(runtime, SLEEP_CODE[runtime]), {"s": 0})
    assert ok.ok


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_worker_exit_is_worker_crashed(pools: WorkerPools, runtime: str) -> None:
    code = {
        "python": "import os\ndef handler(event):\n    os._exit(3)\n",
        "nodejs": "exports.handler = () => { process.exit(3); };\n",
    }[runtime]
    r = await run(pools, spec(runtime, code))
    assert r.failure == "RUNTIME_ERROR"
    assert r.error is not None and r.error.type == "WorkerCrashed"
    assert "code 3" in r.error.message


ENV_CODE = {
    "python": "import os\ndef handler(event):\n    return dict(os.environ)\n",
    "nodejs": "exports.handler = () => Object.assign({}, process.env);\n",
}


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_environment_is_the_specs_and_never_the_gateways(
    pools: WorkerPools, runtime: str
) -> None:
    assert os.environ.get("FNGATE_SECRET_TEST") == "x"
    r = await run(pools, spec(runtime, ENV_CODE[runtime], environment={"GREETING": "hi"}))
    assert r.ok, r.error
    env = r.result
    assert env["GREETING"] == "hi"
    assert not [k for k in env if k.startswith("FNGATE")]
    assert set(env) <= {"GREETING", "PATH", "HOME", "LANG", "TMPDIR", "LC_CTYPE", "PWD"}


WHOAMI_CODE = {
    "python": (
        "import os\n"
        "def handler(event):\n"
        "    st = os.stat('.')\n"
        "    return {'uid': os.getuid(), 'cwd': os.getcwd(), 'home': os.environ['HOME'],\n"
        "            'mode': st.st_mode & 0o777, 'owner': st.st_uid, 'pgid': os.getpgid(0),\n"
        "            'pid': os.getpid()}\n"
    ),
    "nodejs": (
        "const fs = require('fs');\n"
        "exports.handler = () => { const st = fs.statSync('.');\n"
        "  return { uid: process.getuid(), cwd: process.cwd(), home: process.env.HOME,\n"
        "    mode: st.mode & 0o777, owner: st.uid, pgid: null, pid: process.pid }; };\n"
    ),
}


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_worker_has_private_dir_own_group_and_user(pools: WorkerPools, runtime: str) -> None:
    r = await run(pools, spec(runtime, WHOAMI_CODE[runtime]))
    assert r.ok, r.error
    res = r.result
    assert res["cwd"] == res["home"]
    assert res["mode"] == 0o700 and res["owner"] == res["uid"]
    if res["pgid"] is not None and pools.sandbox.mode == "process":
        assert res["pgid"] == res["pid"]
    if os.geteuid() == 0:
        assert res["uid"] != 0


SNOOP_CODE = {
    "python": (
        "def handler(event):\n"
        "    out = {}\n"
        "    for name in ('environ', 'secret'):\n"
        "        try:\n"
        "            open(event[name], 'rb').read()\n"
        "            out[name] = 'read'\n"
        "        except PermissionError:\n"
        "            out[name] = 'denied'\n"
        "        except FileNotFoundError:\n"
        "            out[name] = 'ENOENT'\n"
        "    return out\n"
    ),
    "nodejs": (
        "const fs = require('fs');\n"
        "exports.handler = (event) => { const out = {};\n"
        "  for (const name of ['environ', 'secret']) {\n"
        "    try { fs.readFileSync(event[name]); out[name] = 'read'; }\n"
        "    catch (e) { out[name] = e.code === 'EACCES' ? 'denied' : e.code; } }\n"
        "  return out; };\n"
    ),
}


@pytest.mark.skipif(os.geteuid() != 0, reason="workers run as another user only under root")
@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_worker_cannot_read_gateway_environ_or_private_dir(
    pools: WorkerPools, runtime: str, tmp_path: Path
) -> None:
    private = tmp_path / "private"
    private.mkdir()
    os.chmod(private, 0o700)
    secret = private / "secret.txt"
    secret.write_text("s3cret")
    os.chmod(tmp_path, 0o755)
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    event = {"environ": f"/proc/{os.getpid()}/environ", "secret": str(secret)}
    r = await run(pools, spec(runtime, SNOOP_CODE[runtime]), event)
    assert r.ok, r.error
    # Denied in process mode; not even there inside the namespace sandbox.
    assert set(r.result.values()) <= {"denied", "ENOENT"}, r.result


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_first_call_is_cold_second_is_warm(pools: WorkerPools, runtime: str) -> None:
    s = spec(runtime, SLEEP_CODE[runtime])
    first = await run(pools, s, {"s": 0})
    second = await run(pools, s, {"s": 0})
    assert first.ok and second.ok
    assert first.cold_start is True
    assert second.cold_start is False
    assert first.result == second.result


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_child_flooding_real_stdout_cannot_block_the_worker(
    pools: WorkerPools, runtime: str
) -> None:
    # 1 MB on fd 1 is far more than a pipe buffer: it only finishes if the gateway drains it.
    shell = "yes xxxxxxxxxxxxxxxxxxxxxxxx | head -c 1000000; echo from-child"
    code = {
        "python": (
            "import subprocess\n"
            "def handler(event):\n"
            f"    subprocess.run(['/bin/sh', '-c', {shell!r}], check=True)\n"
            "    return 'done'\n"
        ),
        "nodejs": (
            "const cp = require('child_process');\n"
            f"exports.handler = () => {{ cp.execFileSync('/bin/sh', ['-c', {shell!r}],\n"
            "  { stdio: ['ignore', 'inherit', 'inherit'] }); return 'done'; };\n"
        ),
    }[runtime]
    r = await run(pools, spec(runtime, code), timeout_ms=5000)
    assert r.ok, r.error
    assert r.result == "done"
