"""The end-to-end tier: ``fngate serve`` run as a subprocess, as a user runs it.

Every gateway here runs as root with the namespace sandbox on (the default), so these
tests skip with the reason when that cannot be had (no root, no bwrap or pasta), and fail
under ``CI=true``. Each module gets a database of its own on the machine's PostgreSQL
(``FNGATE_DATABASE_URL``) and a private temporary directory (``TMPDIR``: the workers' and
the builds' bases, so every dependency build here really runs); only
``test_cli_serve.py`` uses the embedded default, as the README does.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.conftest import need_service, scratch_database
from tests.e2e.serve import Gateway, clean_env, need_sandbox


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test of this tier is marked ``e2e`` (``-m "not e2e"`` leaves the tier out)."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="module")
def module_dir() -> Iterator[Path]:
    """A directory outside pytest's base (which a pytest session starting meanwhile resets
    to 0700), traversable by the workers' uids, for this module's gateway."""
    path = Path(tempfile.mkdtemp(prefix="fngate-e2e-"))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
async def module_database() -> AsyncIterator[str]:
    """A fresh, empty database of this module's own on the machine's PostgreSQL (the
    gateway migrates it as it starts)."""
    need_service("PostgreSQL", "127.0.0.1", 5432)
    async with scratch_database("fngate_e2e") as dsn:
        yield dsn


@pytest.fixture(scope="module")
def server_env() -> dict[str, str]:
    """Settings a module's gateway runs with beside the defaults (a module overrides this
    fixture to set some, e.g. ``FNGATE_MAX_WORKERS``)."""
    return {}


@pytest.fixture(scope="module")
def server(module_dir: Path, module_database: str,
           server_env: dict[str, str]) -> Iterator[Gateway]:
    """This module's running gateway: sandbox on, the machine's PostgreSQL, its own TMPDIR,
    and the module's ``server_env``."""
    need_sandbox()
    tmp = module_dir / "tmp"
    tmp.mkdir(mode=0o755)
    gw = Gateway(module_dir, clean_env(FNGATE_DATABASE_URL=module_database, TMPDIR=str(tmp),
                                       **server_env))
    gw.start()
    try:
        yield gw
    finally:
        gw.stop()
