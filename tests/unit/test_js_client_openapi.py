"""The TypeScript client's types are generated (openapi-typescript) from
``clients/js/openapi.json``: that file must be the document the gateway serves now, so a
change to the API that forgets the client fails here. (That ``src/schema.ts`` is what the
generator makes of the stored file is checked where node is: tests/e2e/test_js_client.py.)"""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "clients" / "js" / "scripts" / "dump_openapi.py"


@pytest.fixture(scope="module")
def dump() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dump_openapi", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def live(dump: ModuleType) -> dict[str, Any]:
    return dict(dump.live_document())


def test_the_stored_document_is_the_gateways(dump: ModuleType, capsys: pytest.CaptureFixture[str]
                                             ) -> None:
    status = dump.main(["--check"])
    assert status == 0, capsys.readouterr().err


def test_drift_names_what_changed_and_ignores_the_version(dump: ModuleType,
                                                          live: dict[str, Any]) -> None:
    changed = copy.deepcopy(live)
    changed["info"]["version"] = "99.0.0"
    assert dump.drift(changed, live) == []
    changed["components"]["schemas"]["Job"]["properties"]["status"]["enum"].append("lost")
    del changed["paths"]["/api/v1/jobs/{job_id}"]
    changed["components"]["schemas"]["Extra"] = {"type": "object"}
    assert dump.drift(changed, live) == [
        "paths: /api/v1/jobs/{job_id} only in the live document",
        "components.schemas: Extra no longer in the live document",
        "components.schemas: Job changed",
    ]


def test_the_script_writes_what_the_check_accepts(dump: ModuleType, live: dict[str, Any],
                                                  tmp_path: Path) -> None:
    target = tmp_path / "openapi.json"
    assert dump.main([str(target)]) == 0
    assert json.loads(target.read_text()) == live
    assert dump.main(["--check", str(target)]) == 0
