"""Write the gateway's OpenAPI document to ``clients/js/openapi.json``: the document the
TypeScript client's types (``src/schema.ts``) are generated from.

Run with the gateway installed (the checkout's virtualenv), then regenerate the types::

    npm run openapi && npm run generate      # in clients/js
    ../../.venv/bin/python scripts/dump_openapi.py --check   # exit 1 when it drifted

The document is built in-process from the route table, as ``GET /openapi.json`` serves it.
``tests/unit/test_js_client_openapi.py`` runs the check, so a change to the API that forgets
the client fails the suite.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

STORED = Path(__file__).resolve().parents[1] / "openapi.json"


def live_document() -> dict[str, Any]:
    """The document the current code serves at ``/openapi.json``."""
    from gateway.api.openapi import build_openapi
    from gateway.api.routes import all_routes
    from gateway.core.version import VERSION

    document: dict[str, Any] = json.loads(json.dumps(build_openapi(VERSION, all_routes())))
    return document


def render(document: dict[str, Any]) -> str:
    """The stored file's text: stable, diffable JSON."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def drift(stored: dict[str, Any], live: dict[str, Any]) -> list[str]:
    """Where ``stored`` differs from ``live`` (the gateway's version is not drift): the top
    keys, paths and component entries that were added, removed or changed."""
    stored, live = _without_version(stored), _without_version(live)
    problems: list[str] = []
    for key in sorted(stored.keys() | live.keys()):
        if key in ("paths", "components"):
            continue
        if stored.get(key) != live.get(key):
            problems.append(f"{key} changed")
    problems += _compare("paths", stored.get("paths", {}), live.get("paths", {}))
    stored_parts, live_parts = stored.get("components", {}), live.get("components", {})
    for part in sorted(stored_parts.keys() | live_parts.keys()):
        problems += _compare(f"components.{part}", stored_parts.get(part, {}),
                             live_parts.get(part, {}))
    return problems


def _without_version(document: dict[str, Any]) -> dict[str, Any]:
    info = {k: v for k, v in document.get("info", {}).items() if k != "version"}
    return {**document, "info": info}


def _compare(where: str, stored: dict[str, Any], live: dict[str, Any]) -> list[str]:
    out = [f"{where}: {name} only in the live document" for name in live.keys() - stored.keys()]
    out += [f"{where}: {name} no longer in the live document"
            for name in stored.keys() - live.keys()]
    out += [f"{where}: {name} changed"
            for name in stored.keys() & live.keys() if stored[name] != live[name]]
    return sorted(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", nargs="?", type=Path, default=STORED)
    parser.add_argument("--check", action="store_true",
                        help="compare the stored document with the live one; exit 1 on drift")
    args = parser.parse_args(argv)
    live = live_document()
    if not args.check:
        args.output.write_text(render(live), encoding="utf-8")
        return 0
    problems = drift(json.loads(args.output.read_text(encoding="utf-8")), live)
    if problems:
        sys.stderr.write(
            "clients/js/openapi.json is not the gateway's document; in clients/js run "
            "`npm run openapi && npm run generate` and commit both files:\n  "
            + "\n  ".join(problems) + "\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
