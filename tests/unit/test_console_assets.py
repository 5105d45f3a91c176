"""The web console's files as they ship: the vendored libraries are the registry's (by the
hashes recorded when they were vendored, with their licenses), every import resolves through
the page's import map, the policy allows the import map by its hash and nothing inline, the
page builds its content without HTML strings, and the package data carries every file."""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import re
import tomllib
from pathlib import Path

import pytest

from config import load
from gateway.api.routes.console import ASSETS, content_security_policy

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ASSETS / "vendor"
INDEX = (ASSETS / "index.html").read_text(encoding="utf-8")
_IMPORT_MAP = re.compile(r'<script type="importmap">(.*?)</script>', re.S)
# Static imports and re-exports (`import x from "m";`, `export {x} from "m";`, `import "m";`)
# and dynamic ones (`import("m")`). The semicolon tells a statement from a mention in text
# (the Go template's `import "fmt"`, a comment's `from "module"`).
_SPECIFIER = re.compile(r"""(?:\b(?:from|import)\s*(['"])([^'"\n]+)\1\s*;"""
                        r"""|\bimport\(\s*(['"])([^'"\n]+)\3\s*\))""")


def _import_map() -> dict[str, str]:
    found = _IMPORT_MAP.findall(INDEX)
    assert len(found) == 1
    imports: dict[str, str] = json.loads(found[0])["imports"]
    return imports


def _modules() -> list[Path]:
    return sorted(p for p in ASSETS.rglob("*.js"))


def _manifest() -> dict[str, dict[str, object]]:
    manifest: dict[str, dict[str, object]] = json.loads(
        (VENDOR / "MANIFEST.json").read_text())
    return manifest


def test_every_vendored_file_is_the_one_recorded_and_nothing_else_is_vendored() -> None:
    manifest = _manifest()
    recorded: dict[str, str] = {}
    for name, package in manifest.items():
        files = package["files"]
        assert isinstance(files, dict)
        assert f"{name}/LICENSE" in files, f"{name} is vendored without its license"
        assert str(package["integrity"]).startswith("sha512-")
        recorded.update(files)
    on_disk = {str(p.relative_to(VENDOR)) for p in VENDOR.rglob("*") if p.is_file()}
    assert on_disk - {"MANIFEST.json"} == set(recorded)
    for rel, digest in recorded.items():
        assert hashlib.sha256((VENDOR / rel).read_bytes()).hexdigest() == digest, rel


def test_the_import_map_names_each_vendored_package_by_its_entry() -> None:
    expected = {name: f"./vendor/{package['entry']}" for name, package in _manifest().items()}
    assert _import_map() == expected


def test_every_import_of_every_module_resolves() -> None:
    imports = _import_map()
    unresolved, bare = [], set()
    for module in _modules():
        for found in _SPECIFIER.finditer(module.read_text(encoding="utf-8")):
            spec = found[2] or found[4]
            if spec.startswith(("./", "../")):
                target = (module.parent / spec).resolve()
                ok = target.is_file() and ASSETS in target.parents
            else:
                bare.add(spec)
                ok = spec in imports and (ASSETS / imports[spec]).is_file()
            if not ok:
                unresolved.append(f"{module.relative_to(ASSETS)}: {spec}")
    assert unresolved == []
    # Every vendored package is imported by something (so none is dead weight, and the
    # imports were really read).
    assert bare == set(imports)


def test_the_policy_allows_the_import_map_by_its_hash_and_no_other_inline_code() -> None:
    policy = dict(part.split(" ", 1) for part in content_security_policy(INDEX).split("; "))
    (body,) = _IMPORT_MAP.findall(INDEX)
    digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    assert policy["script-src"] == f"'self' 'sha256-{digest}'"
    assert policy["style-src"] == "'self'"
    assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in content_security_policy(INDEX)
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", INDEX, re.S)
    inline = [attrs for attrs, text in scripts if text.strip()]
    assert inline == [' type="importmap"']
    assert re.search(r"\sstyle=|\son[a-z]+=|<style", INDEX) is None


@pytest.mark.parametrize("module", sorted((ASSETS / "js").glob("*.js")), ids=lambda p: p.name)
def test_the_console_builds_its_page_without_html_strings(module: Path) -> None:
    text = module.read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                 "new Function", 'setAttribute("style"', "localStorage"):
        assert sink not in text, f"{module.name} uses {sink}"


def test_the_package_data_ships_every_console_file() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["gateway.api"]
    base = ROOT / "gateway" / "api"
    missing = [str(p.relative_to(base)) for p in ASSETS.rglob("*") if p.is_file()
               and not any(fnmatch.fnmatch(str(p.relative_to(base)), pat) for pat in patterns)]
    assert missing == []


def test_the_console_setting_turns_it_off() -> None:
    assert load({}, toml_path="/nonexistent.toml").console is True
    assert load({"FNGATE_CONSOLE": "off"}, toml_path="/nonexistent.toml").console is False
