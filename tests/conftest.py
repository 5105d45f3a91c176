"""Shared fixtures: real PostgreSQL per test (cloned from a migrated template), apps, tokens."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvloop

PG_ADMIN_DSN = os.environ.get("FNGATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
TEST_SECRET = "test-secret-" + "x" * 40
IN_CI = os.environ.get("CI", "").lower() == "true"


def pytest_asyncio_loop_factories(config: pytest.Config,
                                   item: pytest.Item) -> dict[str, Callable[[], Any]]:
    """Every async test and fixture runs on uvloop, the loop ``fngate serve`` runs
    (gateway/server.py): a call uvloop refuses fails here, not only in production."""
    return {"uvloop": uvloop.new_event_loop}


@pytest.hookimpl(trylast=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Synchronous tests (the end-to-end and security tiers) get the same uvloop factory.

    pytest-asyncio gives it to async tests only (by parametrizing its loop-factory fixture,
    after which this hook sees it). A synchronous test using an async fixture ran that
    fixture on asyncio's own loop, and the switch between the two kinds of tests tore
    the session's loop down and made it again — with every session-scoped async fixture:
    the migrated template database was gone under the security suite's fixtures."""
    name = "_asyncio_loop_factory"
    if name in metafunc.fixturenames:
        return
    metafunc.fixturenames.append(name)
    metafunc.parametrize(name, [uvloop.new_event_loop], ids=[pytest.HIDDEN_PARAM],
                         indirect=True, scope="session")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def need_service(name: str, host: str, port: int) -> None:
    """Skip (fail under CI=true) when a service the test needs is not reachable."""
    if _reachable(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if IN_CI:
        pytest.fail(message + " (CI=true: services must be up)")
    pytest.skip(message)


def need_tool(name: str, package: str) -> None:
    """Skip (fail under CI=true) when a command the test needs is not installed."""
    if shutil.which(name) is not None:
        return
    message = f"{name} is not installed (Debian: apt-get install {package})"
    if IN_CI:
        pytest.fail(message + " (CI=true: .ci/run installs it)")
    pytest.skip(message)


@pytest.fixture
def bwrap_installed() -> None:
    """The namespace sandbox's tools are here (skip, or fail under CI=true)."""
    need_tool("bwrap", "bubblewrap")
    need_tool("pasta", "passt")


needs_bwrap = pytest.mark.usefixtures("bwrap_installed")


@pytest.fixture(scope="session", autouse=True)
def _runtimes_detected_once() -> Iterator[None]:
    """Every in-process gateway's worker pools find the same interpreters and toolchains
    (the machine does not change in a session), so each worker user's are found once per
    ``PATH``: it starts a dozen probe processes, ~0.2 s of every app's start-up. A test
    that patches ``executors.pool.detect_runtimes`` still gets its own; each call gets a
    dict of its own to change."""
    import executors.pool

    detect = executors.pool.detect_runtimes
    found: dict[tuple[Any, str | None], dict[Any, Any]] = {}

    def detect_once(user: Any) -> dict[Any, Any]:
        key = (user, os.environ.get("PATH"))
        if key not in found:
            found[key] = detect(user)
        return dict(found[key])

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(executors.pool, "detect_runtimes", detect_once)
        yield


@pytest.fixture(scope="session")
async def pg_template() -> AsyncIterator[str]:
    """A migrated template database, created once per test session."""
    need_service("PostgreSQL", "127.0.0.1", 5432)
    from gateway.store.migrate import migrate
    from gateway.store.pool import create_pool

    name = f"fngate_tpl_{os.getpid()}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    await admin.execute(f'CREATE DATABASE "{name}"')
    pool = await create_pool(_dsn(name), min_size=1, max_size=2)
    await migrate(pool)
    await pool.close()
    try:
        yield name
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def _dsn(database: str) -> str:
    return PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + database


async def _drop_database(admin: asyncpg.Connection, name: str) -> None:
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.asynccontextmanager
async def scratch_database(prefix: str, template: str | None = None) -> AsyncIterator[str]:
    """A database of its own (a copy of ``template``, else empty), dropped afterwards:
    its DSN."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        copy = f' TEMPLATE "{template}"' if template is not None else ""
        await admin.execute(f'CREATE DATABASE "{name}"{copy}')
        yield _dsn(name)
        await _drop_database(admin, name)
    finally:
        await admin.close()


class DatabaseStock:
    """Copies of the template made ahead, and spent ones dropped, in the background.

    A ``CREATE DATABASE … TEMPLATE`` costs ~0.3 s of PostgreSQL's time, most of a small
    test's, and a ``DROP DATABASE`` run beside the next copy waits for it (0.3-0.8 s).
    One keeper task on one connection does both, one at a time, while the tests run: a
    copy first whenever fewer than ``depth`` are ready, else a drop of a spent one. Each
    copy is lent once (:meth:`lend`); what is left at the end is dropped by name
    (``<prefix>_<pid>_…``), a copy whose creation or drop was cancelled included."""

    def __init__(self, template: str, *, depth: int = 2) -> None:
        self._template = template
        self._prefix = f"fngate_t_{os.getpid()}"
        self._ready: asyncio.Queue[str] = asyncio.Queue(maxsize=depth)
        self._spent: list[str] = []
        self._wake = asyncio.Event()  # a copy was taken or given back
        self._keeper: asyncio.Task[None] | None = None

    async def _keep(self) -> None:
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            while True:
                if not self._ready.full():
                    name = f"{self._prefix}_{uuid.uuid4().hex[:12]}"
                    await admin.execute(
                        f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"')
                    self._ready.put_nowait(name)
                elif self._spent:
                    await _drop_database(admin, self._spent.pop())
                else:
                    self._wake.clear()
                    await self._wake.wait()
        finally:
            await admin.close()

    @contextlib.asynccontextmanager
    async def lend(self) -> AsyncIterator[str]:
        """A fresh, migrated database of the caller's own (its DSN), dropped afterwards
        (``WITH (FORCE)``: a connection left open does not keep it)."""
        name = await self._take()
        try:
            yield _dsn(name)
        finally:
            self._spent.append(name)
            self._wake.set()

    async def _take(self) -> str:
        if self._keeper is None or self._keeper.done():
            self._keeper = asyncio.create_task(self._keep(), name="test-database-stock")
        getter = asyncio.ensure_future(self._ready.get())
        done, _ = await asyncio.wait({getter, self._keeper}, return_when=asyncio.FIRST_COMPLETED)
        if getter not in done:
            getter.cancel()
            self._keeper.result()  # the keeper's error (PostgreSQL gone), as the test's
        self._wake.set()
        return getter.result()

    async def close(self) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
            await asyncio.gather(self._keeper, return_exceptions=True)
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            left = await admin.fetch("SELECT datname FROM pg_database WHERE datname LIKE $1",
                                     self._prefix + "\\_%")
            for row in left:
                await _drop_database(admin, row["datname"])
        finally:
            await admin.close()


@pytest.fixture(scope="session")
async def database_stock(pg_template: str) -> AsyncIterator[DatabaseStock]:
    stock = DatabaseStock(pg_template)
    try:
        yield stock
    finally:
        await stock.close()


@pytest.fixture
async def database_url(database_stock: DatabaseStock) -> AsyncIterator[str]:
    """A fresh database of this test's own, already migrated."""
    async with database_stock.lend() as dsn:
        yield dsn


def make_settings(tmp_path: Path, database_url: str | None, **overrides: Any) -> Any:
    from config import load

    values: dict[str, Any] = {
        "data_dir": str(tmp_path / "data"),
        "database_url": database_url,
        "jwt_secret": TEST_SECRET,
        # No pre-started workers unless a test asks: most tests never run a function, and
        # filling the generic pool was most of an app's start-up (~0.2 s a test).
        "prewarm_per_runtime": 0,
        "job_poll_s": 0.5,
        "job_heartbeat_s": 0.5,
        "job_lease_s": 5.0,
        "retry_backoff_s": 0.05,
        "worker_idle_ttl_s": 60.0,
        # Limits on explicitly where tested: the API tests make more than 60 reads a minute.
        "rate_limits": "off",
    }
    values.update(overrides)
    return load({}, toml_path=tmp_path / "none.toml", **values)


@contextlib.asynccontextmanager
async def running_app(settings: Any, **kwargs: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan entered, behind an in-process HTTP client."""
    from gateway.app import create_app

    app = create_app(settings, **kwargs)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://fngate.test",
                                     timeout=60) as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[Any]:
    """A connection pool on the test's own database (a few connections)."""
    from gateway.store.pool import create_pool

    pool = await create_pool(database_url, min_size=1, max_size=4)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
def settings_factory(tmp_path: Path, database_url: str) -> Callable[..., Any]:
    def factory(**overrides: Any) -> Any:
        url = overrides.pop("database_url", database_url)
        return make_settings(tmp_path, url, **overrides)

    return factory


@pytest.fixture
async def client(settings_factory: Callable[..., Any]) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(settings_factory()) as c:
        yield c


def token(scopes: str = "execute:all read:functions write:functions", sub: str = "alice",
          ttl_s: int = 3600, **kwargs: Any) -> str:
    from auth import mint_token

    return mint_token(secret=TEST_SECRET, subject=sub, scopes=scopes, ttl_s=ttl_s, **kwargs)


def auth(scopes: str = "execute:all read:functions write:functions",
         sub: str = "alice") -> dict[str, str]:
    return {"Authorization": f"Bearer {token(scopes, sub)}"}


def sleepers(seconds: str) -> list[int]:
    """Host pids of ``sleep <seconds>`` processes (tests pick a ``seconds`` of their own)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[:2] == [b"sleep", seconds.encode()]:
            found.append(int(entry))
    return found


async def wait_for(predicate: Callable[[], Any], timeout_s: float = 10.0,
                   interval_s: float = 0.05) -> Any:
    """Poll an async or sync predicate until truthy; fail after ``timeout_s``."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        await asyncio.sleep(interval_s)
