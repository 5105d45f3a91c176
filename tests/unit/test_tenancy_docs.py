"""docs/tenancy.md lists every route of the native API and of every dialect with the scope
it needs, and the scope rules it states hold for Principal."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from auth import Principal
from gateway.api.operations import declared_operations
from gateway.api.routes import all_routes
from gateway.dialects import all_dialects

TABLE_ROW = re.compile(r"^\| ([A-Z, ]+) \| (`[^|]+`) \|", re.MULTILINE)


def _documented() -> set[tuple[str, str]]:
    text = (Path(__file__).resolve().parents[2] / "docs" / "tenancy.md").read_text()
    rows: set[tuple[str, str]] = set()
    for methods, paths in TABLE_ROW.findall(text):
        for method in methods.split(", "):
            for path in re.findall(r"`([^`]+)`", paths):
                rows.add((method, path))
    return rows


def test_every_route_is_in_the_tenancy_table() -> None:
    documented = {(m, p.replace("{path}", "{path:path}")) for m, p in _documented()}
    declared = {(op.method, op.path) for op in declared_operations(all_routes())}
    assert sorted(declared - documented) == []


def _principal(*scopes: str) -> Principal:
    return Principal(subject="s", issuer=None, scopes=frozenset(scopes), expires_at=0.0)


@pytest.mark.parametrize(("scopes", "scope", "project", "allowed"), [
    (("write:functions",), "write:functions", "alpha", True),
    (("write:functions",), "write:functions", None, True),
    (("write:functions@alpha",), "write:functions", "alpha", True),
    (("write:functions@alpha",), "write:functions", "beta", False),
    (("write:functions@alpha",), "write:functions", None, False),  # system-wide
    (("admin@alpha",), "read:jobs", "alpha", True),
    (("admin@alpha",), "admin", None, False),
    (("admin",), "read:jobs", "beta", True),
    (("read:functions@alpha",), "write:functions", "alpha", False),
    (("admin@",), "admin", "alpha", False),  # names no project: grants nothing
    (("@alpha",), "admin", "alpha", False),
])
def test_principal_can(scopes: tuple[str, ...], scope: str, project: str | None,
                       allowed: bool) -> None:
    assert _principal(*scopes).can(scope, project) is allowed


def test_principal_sees_and_lists_only_its_projects() -> None:
    tenant = _principal("read:functions@alpha", "execute:all@beta")
    assert tenant.sees("alpha") and tenant.sees("beta") and not tenant.sees("gamma")
    assert tenant.projects_for("read:functions") == frozenset({"alpha"})
    assert tenant.projects_for("read:jobs") == frozenset()
    assert _principal("execute:all").sees("gamma")
    assert _principal("read:functions", "admin@x").projects_for("read:functions") is None


def test_every_dialect_route_is_in_the_tenancy_table() -> None:
    documented = _documented()
    declared = {(method, route.path) for dialect in all_dialects()
                for route in dialect.routes
                for method in (getattr(route, "methods", None) or set()) - {"HEAD"}}
    assert declared and sorted(declared - documented) == []
