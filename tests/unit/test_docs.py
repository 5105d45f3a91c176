"""The repository's docs stand alone and in step with the code: every setting is documented
with its default, every operation of the OpenAPI document is in the API reference, every link
resolves inside the repository, every table renders, and the README sends no reader
elsewhere."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from config import Settings
from gateway.api.openapi import build_openapi
from gateway.api.routes import all_routes

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted((ROOT / "docs").glob("*.md"))
# The pages a reader reaches from the README: docs/ and the READMEs it links.
PAGES = [ROOT / "README.md", *DOCS, ROOT / "deploy" / "README.md",
         *sorted((ROOT / "clients").glob("*/README.md"))]
_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
_METHOD = "GET|POST|PUT|PATCH|DELETE"
# `GET /api/v1/functions/{ref}` or `GET|PUT /api/v1/env/system` (a query string may follow).
_OPERATION = re.compile(rf"`((?:{_METHOD})(?:\|(?:{_METHOD}))*) (/[^`\s?]*)")
_CELL = re.compile(r"(?<!\\)\|")


def _template(path: str) -> str:
    """A path with its parameters' names dropped (``{id}`` and ``{job_id}`` are one)."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def _default_cells() -> dict[str, list[str]]:
    """For each ``FNGATE_*`` of configuration.md's tables, the literal values (in backticks)
    of its default cell: one per variable where a row names several and gives each one."""
    cells: dict[str, list[str]] = {}
    for line in (ROOT / "docs" / "configuration.md").read_text().splitlines():
        if not line.startswith("| `FNGATE_"):
            continue
        variables, default = _CELL.split(line.strip().strip("|"))[:2]
        names = re.findall(r"FNGATE_[A-Z0-9_]+", variables)
        values = [v.replace("\\|", "|") for v in re.findall(r"`([^`]*)`", default)]
        for i, name in enumerate(names):
            cells[name] = [values[i]] if len(values) == len(names) else values
    return cells


def test_every_setting_is_in_the_configuration_table() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    missing = [f"FNGATE_{f.name.upper()}" for f in dataclasses.fields(Settings)
               if f"`FNGATE_{f.name.upper()}`" not in text]
    assert missing == []


def test_every_variable_the_configuration_page_names_is_a_setting() -> None:
    settings = {f"FNGATE_{f.name.upper()}" for f in dataclasses.fields(Settings)}
    named = set(re.findall(r"FNGATE_[A-Z0-9_]+", (ROOT / "docs" / "configuration.md").read_text()))
    # FNGATE_CONFIG names the settings file itself.
    assert named - settings == {"FNGATE_CONFIG"}


def test_every_default_in_the_configuration_table_is_the_settings_default() -> None:
    cells, wrong = _default_cells(), []
    for f in dataclasses.fields(Settings):
        name = f"FNGATE_{f.name.upper()}"
        default = f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
        if default is None or default == ():
            continue  # unset, or derived at start (written in words in the table)
        values = cells.get(name, [])
        if isinstance(default, bool):
            ok = str(default).lower() in values
        elif isinstance(default, int | float):
            ok = any(_number(v) == default for v in values)
        else:
            ok = str(default) in values
        if not ok:
            wrong.append((name, default, values))
    assert wrong == []


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def test_every_operation_of_the_openapi_document_is_in_the_api_reference() -> None:
    document = build_openapi("0", all_routes())
    served = {(method.upper(), _template(path))
              for path, item in document["paths"].items()
              for method in item if method.upper() in _METHOD.split("|")}
    documented = {(method, _template(path))
                  for methods, path in _OPERATION.findall((ROOT / "docs" / "api.md").read_text())
                  if "..." not in path  # `GET /api/v1/...`: a class of routes
                  for method in methods.split("|")}
    assert sorted(served - documented) == []
    assert sorted(documented - served) == [], "docs/api.md names operations that are not served"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_table_renders(page: Path) -> None:
    """A table row outside a table (after a blank line) or prose run into a row's last cell
    renders as text: the setting or the paragraph is lost to the reader."""
    lines = page.read_text().splitlines()
    fenced = False
    for number, line in enumerate(lines):
        if line.startswith("```"):
            fenced = not fenced
        if fenced or not line.startswith("|"):
            continue
        assert line.rstrip().endswith("|"), f"{page.name}:{number + 1}: text after a row"
        if number > 0 and lines[number - 1].startswith("|"):
            continue
        # The first row of a table: its header, then the delimiter row.
        assert re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", lines[number + 1].strip()), (
            f"{page.name}:{number + 1}: a row that starts no table")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_stay_inside_the_repository_and_resolve(page: Path) -> None:
    for target in _LINK.findall(page.read_text()):
        if "://" in target:
            # The docs may cite a tool's home page; the README sends readers only to docs/.
            assert page != ROOT / "README.md", f"README links outside the repository: {target}"
            continue
        resolved = (page.parent / target).resolve()
        assert resolved.is_relative_to(ROOT), f"{page.name} links outside: {target}"
        assert resolved.exists(), f"{page.name} links to a missing file: {target}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_page_points_at_files_a_clone_does_not_have(page: Path) -> None:
    text = page.read_text()
    assert "../shared" not in text and "shared/API.md" not in text
    # The project's issue tracker is not part of a clone either.
    assert not re.search(r"\bissues?\b", text, re.IGNORECASE), page.name
