#!/usr/bin/env python3
"""Vendor the web console's JavaScript libraries from the npm registry (run by hand when a
version below changes; nothing runs it at install or serve time, and no Node.js build is
needed: the files are the packages' own prebuilt ES modules, unmodified).

For each pinned package: ``npm pack`` (the npm client, checking the registry's integrity
hash) downloads its tarball; its ES module entry and its LICENSE are copied to
``gateway/api/console/vendor/<package>/``, and ``vendor/MANIFEST.json`` records the version,
the tarball's integrity and each copied file's sha256 (tests/unit/test_console_assets.py
checks the files against it, and that index.html's import map resolves every import).

    python3 deploy/vendor-console.py
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "gateway" / "api" / "console" / "vendor"

# CodeMirror 6 (the editor) with the Lezer grammars of the four runtimes, and what they import.
PACKAGES = {
    "@codemirror/state": "6.7.6",
    "@codemirror/view": "6.44.2",
    "@codemirror/language": "6.13.1",
    "@codemirror/commands": "6.11.2",
    "@codemirror/streamparser": "6.0.0",
    "@lezer/common": "1.5.7",
    "@lezer/highlight": "1.2.5",
    "@lezer/lr": "1.4.13",
    "@lezer/python": "1.1.19",
    "@lezer/javascript": "1.5.7",
    "@lezer/go": "1.0.1",
    "@lezer/rust": "1.0.3",
    "@marijn/find-cluster-break": "1.0.4",
    "style-mod": "4.1.5",
    "w3c-keyname": "2.2.8",
    "crelt": "1.0.7",
}


def _esm_entry(meta: dict[str, object]) -> str:
    """The file ``import "<package>"`` loads: ``exports["."].import`` (or ``.import``), else
    ``module``."""
    exports = meta.get("exports")
    if isinstance(exports, dict):
        target = exports.get(".", exports)
        if isinstance(target, dict) and isinstance(target.get("import"), str):
            return str(target["import"])
    module = meta.get("module")
    if isinstance(module, str):
        return module
    raise SystemExit(f"{meta.get('name')}: no ES module entry")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def vendor(name: str, version: str, work: Path) -> dict[str, object]:
    packed = subprocess.run(["npm", "pack", "--json", f"{name}@{version}"], cwd=work,
                            check=True, capture_output=True, text=True)
    info = json.loads(packed.stdout)[0]
    with tarfile.open(work / info["filename"]) as tar:
        tar.extractall(work / "x", filter="data")
    root = work / "x" / "package"
    meta = json.loads((root / "package.json").read_text())
    entry = _esm_entry(meta)
    target = VENDOR / name
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    files = {}
    for rel in (entry, "LICENSE"):
        source = root / rel
        dest = target / Path(rel).name
        shutil.copyfile(source, dest)
        files[str(dest.relative_to(VENDOR))] = _sha256(dest)
    shutil.rmtree(work / "x")
    return {"version": version, "integrity": info["integrity"],
            "entry": f"{name}/{Path(entry).name}", "license": meta.get("license"),
            "files": files}


def main() -> None:
    manifest = {}
    for name, version in PACKAGES.items():
        with tempfile.TemporaryDirectory() as tmp:
            manifest[name] = vendor(name, version, Path(tmp))
        print(f"{name}@{version}")  # noqa: T201 (a script reporting progress)
    (VENDOR / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
