"""Dependency builds: pip/npm installs, the per-replica cache, sharing, failures, runners."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import stat
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

import config
from executors import Builder, BuildResult, CallContext, CodeSpec, WorkerPools
from executors.build import InvalidDependency, build_env, check_dependencies
from executors.sandbox import DEPS_IN_SANDBOX
from tests.conftest import need_service, needs_bwrap

_ids = itertools.count(50_000)
SIX = "six==1.16.0"
IS_NUMBER = "is-number@7.0.0"


def need_pypi() -> None:
    need_service("PyPI (pypi.org)", "pypi.org", 443)
    need_service("PyPI files (files.pythonhosted.org)", "files.pythonhosted.org", 443)


def need_npm() -> None:
    need_service("the npm registry (registry.npmjs.org)", "registry.npmjs.org", 443)


@pytest.fixture(scope="module")
def builds_dir() -> Iterator[Path]:
    # Private to this module (a fresh cache), reachable by the worker user like the real one.
    path = Path(tempfile.mkdtemp(prefix="fngate-builds-test-"))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest_asyncio.fixture(scope="module")
async def pools(
    tmp_path_factory: pytest.TempPathFactory, builds_dir: Path
) -> AsyncIterator[WorkerPools]:
    settings = config.load({}, data_dir=str(tmp_path_factory.mktemp("data")), prewarm_per_runtime=1)
    p = WorkerPools(settings)
    p.builder = Builder(settings, base=builds_dir)
    await p.start()
    try:
        yield p
    finally:
        await p.close()


def spec(runtime: str, code: str, path: str | None) -> CodeSpec:
    return CodeSpec(
        function_id=next(_ids),
        function_name="fn",
        version=1,
        runtime=runtime,  # type: ignore[arg-type]
        code=code,
        dependencies_path=path,
    )


def ctx() -> CallContext:
    return CallContext(
        job_id="job-b",
        function_name="fn",
        version=1,
        trigger="invoke",
        deadline_ms=int(time.time() * 1000) + 30_000,
    )


async def run(pools: WorkerPools, s: CodeSpec, event: Any = None) -> Any:
    result = await pools.run(s, event, ctx(), timeout_ms=20_000)
    assert result.ok, result.error
    return result.result


def assert_world_readable(root: str) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames, ""]:
            st = os.lstat(os.path.join(dirpath, name))
            if stat.S_ISLNK(st.st_mode):
                continue
            assert st.st_uid == os.geteuid()
            assert st.st_mode & 0o004, (dirpath, name)
            assert not st.st_mode & 0o022, (dirpath, name)


# --- no network needed -------------------------------------------------------


async def test_no_dependencies_is_instant(pools: WorkerPools) -> None:
    started = time.perf_counter()
    result = await pools.builder.build("python", [])
    assert result == BuildResult(ok=True, log="", path=None)
    assert (await pools.builder.build("nodejs", ())).path is None
    assert time.perf_counter() - started < 0.05
    assert pools.builder.cached("python", []) is None


@pytest.mark.parametrize(
    ("runtime", "bad"),
    [
        ("python", "-r requirements.txt"),
        ("python", "--index-url=http://evil"),
        ("python", "six @ https://example.com/six.whl"),
        ("python", "git+https://github.com/x/y"),
        ("python", "./local/pkg"),
        ("python", "/abs/path"),
        ("python", "six; os_name == 'nt'"),
        ("python", "six six"),
        ("nodejs", "--registry=http://evil"),
        ("nodejs", "github:user/repo"),
        ("nodejs", "user/repo"),
        ("nodejs", "file:../x"),
        ("nodejs", "is-number@npm:evil@1"),
        ("nodejs", "x@http://e/x.tgz"),
        ("nodejs", "@scope/a/b"),
    ],
)
async def test_rejects_options_urls_paths(pools: WorkerPools, runtime: str, bad: str) -> None:
    with pytest.raises(InvalidDependency):
        check_dependencies(runtime, [bad])  # type: ignore[arg-type]
    result = await pools.builder.build(runtime, [bad])  # type: ignore[arg-type]
    assert not result.ok and result.path is None and result.log


def test_accepts_names_and_ranges() -> None:
    assert check_dependencies("python", ["six==1.16.0", "requests[socks] >=2,<3", "a.b_c"]) == [
        "a.b_c",
        "requests[socks] >=2,<3",
        "six==1.16.0",
    ]
    ok = ["is-number@7.0.0", "@types/node@^20", "lodash", "x@>=1.2.3 <2 || 3.x", "y@latest"]
    assert check_dependencies("nodejs", ok) == sorted(ok)


def test_build_env_is_clean() -> None:
    env = build_env(
        Path("/h"),
        {
            "FNGATE_JWT_SECRET": "s",
            "FNGATE_PIP_INDEX_URL": "x",
            "https_proxy": "http://p:3128",
            "NO_PROXY": "localhost",
            "PIP_INDEX_URL": "https://mirror/simple",
            "AWS_SECRET_ACCESS_KEY": "k",
            "PYTHONPATH": "/evil",
            "NODE_OPTIONS": "--require /evil.js",
        },
    )
    assert env == {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": "/h",
        "TMPDIR": "/h",
        "LANG": "C.UTF-8",
        "https_proxy": "http://p:3128",
        "NO_PROXY": "localhost",
        "PIP_INDEX_URL": "https://mirror/simple",
    }


# --- against the registries ----------------------------------------------------


async def test_python_build_runs_with_six(pools: WorkerPools) -> None:
    need_pypi()
    builder = pools.builder
    runs = builder.builds_run
    started = time.perf_counter()
    result = await builder.build("python", [SIX])
    first = time.perf_counter() - started
    assert result.ok, result.log
    assert result.path is not None and (Path(result.path) / "six.py").is_file()
    assert builder.builds_run == runs + 1
    assert not result.path.startswith(str(pools._settings.data_path))
    assert_world_readable(result.path)
    assert builder.cached("python", [SIX]) == result.path

    # Cache hit: same path, no process, directory untouched.
    mtime = os.stat(result.path).st_mtime_ns
    started = time.perf_counter()
    again = await builder.build("python", [" six==1.16.0", SIX])
    hit = time.perf_counter() - started
    assert again.ok and again.path == result.path
    assert builder.builds_run == runs + 1
    assert os.stat(result.path).st_mtime_ns == mtime
    assert hit < 0.1, hit
    print(f"python build: first {first:.2f}s, cached {hit * 1000:.2f}ms")

    code = "import six\ndef handler(event, context):\n    return six.__version__\n"
    assert await run(pools, spec("python", code, result.path)) == "1.16.0"
    # Without the build the import fails.
    failed = await pools.run(spec("python", code, None), None, ctx(), timeout_ms=20_000)
    assert not failed.ok and failed.error is not None
    assert failed.error.type in ("ModuleNotFoundError", "ImportError")


async def test_node_build_runs_with_is_number(pools: WorkerPools) -> None:
    need_npm()
    builder = pools.builder
    runs = builder.builds_run
    started = time.perf_counter()
    result = await builder.build("nodejs", [IS_NUMBER])
    first = time.perf_counter() - started
    assert result.ok, result.log
    assert result.path is not None
    assert (Path(result.path) / "node_modules/is-number/index.js").is_file()
    assert builder.builds_run == runs + 1
    assert_world_readable(result.path)
    started = time.perf_counter()
    again = await builder.build("nodejs", [IS_NUMBER])
    hit = time.perf_counter() - started
    assert again.path == result.path and builder.builds_run == runs + 1
    print(f"node build: first {first:.2f}s, cached {hit * 1000:.2f}ms")

    code = (
        "const isNumber = require('is-number');\n"
        "exports.handler = async (event) => [isNumber(event), isNumber('x'),"
        " require.resolve('is-number')];\n"
    )
    out = await run(pools, spec("nodejs", code, result.path), 5)
    assert out[:2] == [True, False]
    # Resolved inside the build, as the sandbox shows it (or where it is, without one).
    assert result.path is not None
    digest = os.path.basename(result.path)
    assert out[2].startswith((result.path, f"{DEPS_IN_SANDBOX}/{digest}/"))


async def test_concurrent_builds_share_one_run(pools: WorkerPools) -> None:
    need_pypi()
    builder = pools.builder
    deps = ["six>=1.15,<1.17"]  # a hash no other test builds
    assert builder.cached("python", deps) is None
    runs = builder.builds_run
    results = await asyncio.gather(*(builder.build("python", deps) for _ in range(4)))
    assert builder.builds_run == runs + 1
    assert all(r.ok for r in results), results[0].log
    assert len({r.path for r in results}) == 1


async def test_cancelled_waiter_does_not_end_shared_build(pools: WorkerPools) -> None:
    need_npm()
    builder = pools.builder
    deps = ["is-number@^7"]
    first = asyncio.ensure_future(builder.build("nodejs", deps))
    second = asyncio.ensure_future(builder.build("nodejs", deps))
    await asyncio.sleep(0.05)
    first.cancel()
    result = await second
    assert result.ok, result.log
    assert first.cancelled()


async def test_bad_package_fails_with_log_and_caches_nothing(pools: WorkerPools) -> None:
    need_pypi()
    builder = pools.builder
    deps = ["no-such-package-fngate-xyz==1.0"]
    runs = builder.builds_run
    result = await builder.build("python", deps)
    assert not result.ok and result.path is None
    assert "no-such-package-fngate-xyz" in result.log
    assert "No matching distribution" in result.log or "ERROR" in result.log
    assert builder.cached("python", deps) is None
    # Not cached: the next attempt runs the tool again.
    await builder.build("python", deps)
    assert builder.builds_run == runs + 2
    # Nothing half-built left behind.
    assert not os.listdir(builder.base / ".staging")


async def test_bad_npm_package_fails(pools: WorkerPools) -> None:
    need_npm()
    result = await pools.builder.build("nodejs", ["no-such-package-fngate-xyz@1.0.0"])
    assert not result.ok and result.path is None
    assert "404" in result.log or "E404" in result.log, result.log


async def test_timeout_kills_the_build(pools: WorkerPools, monkeypatch: pytest.MonkeyPatch) -> None:
    need_pypi()
    import executors.build

    monkeypatch.setattr(executors.build, "BUILD_TIMEOUT_S", 0.05)
    deps = ["six<=1.16.0"]
    result = await pools.builder.build("python", deps)
    assert not result.ok and result.path is None
    assert "timed out" in result.log
    assert pools.builder.cached("python", deps) is None
    assert not os.listdir(pools.builder.base / ".staging")


@needs_bwrap
async def test_sandboxed_worker_sees_the_build(tmp_path: Path, builds_dir: Path) -> None:
    need_pypi()
    need_npm()
    settings = config.load(
        {}, data_dir=str(tmp_path / "data"), prewarm_per_runtime=1, sandbox="namespaces"
    )
    p = WorkerPools(settings)
    p.builder = Builder(settings, base=builds_dir)
    await p.start()
    try:
        py = await p.builder.build("python", [SIX])
        js = await p.builder.build("nodejs", [IS_NUMBER])
        assert py.ok and js.ok, (py.log, js.log)
        code = (
            "import os, six\n"
            "def handler(e):\n"
            "    return [six.__version__, sorted(os.listdir('/tmp'))]\n"
        )
        assert await run(p, spec("python", code, py.path)) == ["1.16.0", ["handler.py"]]
        code = "exports.handler = () => require('is-number')(3);\n"
        assert await run(p, spec("nodejs", code, js.path)) is True
    finally:
        await p.close()


async def test_cached_knows_runtimes_after_prepare(pools: WorkerPools) -> None:
    await pools.builder.prepare()
    assert pools.builder.cached("python", ["never-built-fngate==1"]) is None
    assert pools.builder._tools["python"] is not None
    assert pools.builder._tools["nodejs"] is not None
