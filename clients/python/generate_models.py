"""Write ``fngate_client/models.py`` from the gateway's OpenAPI document.

Run from a checkout with the gateway and its dev dependencies installed
(``pip install -e '.[dev]'``)::

    python clients/python/generate_models.py          # rewrite the models
    python clients/python/generate_models.py --check  # exit 1 when they drifted

The document is built from the routes (``gateway.api.openapi.build_openapi``), as
``GET /openapi.json`` serves it, so the client's types are the API's models; the unit test
``tests/unit/test_client_models.py`` runs ``--check``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

MODELS = Path(__file__).resolve().parent / "fngate_client" / "models.py"

HEADER = (
    '"""The API\'s wire models, generated from the gateway\'s /openapi.json by\n'
    "clients/python/generate_models.py (datamodel-code-generator): do not edit; run the\n"
    'script after a change to gateway/schemas."""'
)

#: Descriptions and examples are left out of the document first, so prose edits in the
#: gateway are not drift, and so is ``additionalProperties: false``: the models ignore fields
#: they do not know (pydantic's default), so an older client reads a newer gateway's
#: answers; ``additionalProperties: true`` (an error's ``details``) keeps them.
ARGS = [
    "--input-file-type", "openapi",
    "--output-model-type", "pydantic_v2.BaseModel",
    "--target-python-version", "3.11",
    "--use-annotated", "--use-standard-collections", "--use-union-operator",
    "--enum-field-as-literal", "all",
    "--field-constraints", "--collapse-root-models", "--use-type-alias",
    "--use-double-quotes", "--disable-timestamp",
    "--formatters", "builtin",
    "--custom-file-header", HEADER,
]


def openapi_document() -> dict[str, object]:
    """The gateway's document, with a fixed version (a release is not drift)."""
    from gateway.api.openapi import build_openapi
    from gateway.api.routes import all_routes

    document = build_openapi("0", all_routes())
    _loosen(document["components"])
    return document


def _loosen(node: object) -> None:
    if isinstance(node, dict):
        for key in ("description", "examples", "example"):
            # Under "properties" the same key is a field's name, and its value a schema.
            if isinstance(node.get(key), (str, list)):
                node.pop(key)
        if node.get("additionalProperties") is False:
            node.pop("additionalProperties")
        for value in node.values():
            _loosen(value)
    elif isinstance(node, list):
        for value in node:
            _loosen(value)


def generate() -> str:
    """The text of ``models.py`` for the gateway's current document."""
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "openapi.json", Path(tmp) / "models.py"
        source.write_text(json.dumps(openapi_document()))
        subprocess.run(
            [sys.executable, "-W", "ignore", "-m", "datamodel_code_generator",
             "--input", str(source), "--output", str(target), *ARGS],
            check=True, capture_output=True, text=True,
        )
        return target.read_text()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when models.py differs from what the gateway's document gives")
    args = parser.parse_args()
    text = generate()
    if args.check:
        if MODELS.read_text() != text:
            print(f"{MODELS} drifted from the gateway's /openapi.json: run "
                  "python clients/python/generate_models.py", file=sys.stderr)
            return 1
        return 0
    MODELS.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
