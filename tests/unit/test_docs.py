"""The repository's docs stand alone: every setting is documented, every link resolves inside
the repository, and the README sends no reader elsewhere."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from config import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted((ROOT / "docs").glob("*.md"))
_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_every_setting_is_in_the_configuration_table() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    missing = [f"FNGATE_{f.name.upper()}" for f in dataclasses.fields(Settings)
               if f"`FNGATE_{f.name.upper()}`" not in text]
    assert missing == []


@pytest.mark.parametrize("page", [ROOT / "README.md", *DOCS], ids=lambda p: p.name)
def test_links_stay_inside_the_repository_and_resolve(page: Path) -> None:
    for target in _LINK.findall(page.read_text()):
        if "://" in target:
            # The docs may cite a tool's home page; the README sends readers only to docs/.
            assert page.name != "README.md", f"README links outside the repository: {target}"
            continue
        resolved = (page.parent / target).resolve()
        assert resolved.is_relative_to(ROOT), f"{page.name} links outside: {target}"
        assert resolved.exists(), f"{page.name} links to a missing file: {target}"


@pytest.mark.parametrize("page", [ROOT / "README.md", *DOCS], ids=lambda p: p.name)
def test_no_page_points_at_files_a_clone_does_not_have(page: Path) -> None:
    text = page.read_text()
    assert "../shared" not in text and "shared/API.md" not in text
    # The project's issue tracker is not part of a clone either.
    assert not re.search(r"\bissues? \d+\b", text, re.IGNORECASE), page.name
