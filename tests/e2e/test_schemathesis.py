"""Schemathesis over the gateway's own ``/openapi.json``: no request it generates from the
document makes ``fngate serve`` answer a server error, and every answer conforms to the
document (status, content type, headers, body schema).

A bounded run (a few examples per operation, no coverage or stateful phase) against the
e2e tier's gateway with rate limits off, seeded with a function of each runtime, a
project, an HTTP trigger, a job and a session, so that path parameters name real
resources. Operations that change or delete a function aim at a function of their own,
so the others keep a runnable one (a failed run of it would be a documented 500).
Skips with the reason when schemathesis is not installed (the ``dev`` extra), and fails
under ``CI=true``. A longer run: ``FNGATE_FUZZ_EXAMPLES=100 FNGATE_FUZZ_TIMEOUT_S=1800``
(examples per operation, and the time it may take); ``pytest -s`` prints its summary.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI
from tests.e2e.serve import Gateway

PY_CODE = "def handler(event):\n    return {'ok': True}\n"
JS_CODE = "exports.handler = async (event) => ({ok: true});\n"

#: No server error, and every response as the document says: its status is one the
#: operation lists, its content type, headers and body match what it declares.
CHECKS = ",".join((
    "not_a_server_error", "status_code_conformance", "content_type_conformance",
    "response_headers_conformance", "response_schema_conformance",
))


def _schemathesis() -> str:
    script = shutil.which("schemathesis", path=os.path.dirname(sys.executable))
    if script is None:
        message = "schemathesis is not installed (pip install -e '.[dev]')"
        if IN_CI:
            pytest.fail(message + " (CI=true: the dev extra installs it)")
        pytest.skip(message)
    return script


@pytest.fixture(scope="module")
def fuzzed(server: Gateway) -> Iterator[tuple[Gateway, dict[str, str], Path]]:
    """The module's gateway restarted without rate limits (every generated request must
    reach its route), seeded; with admin headers and a schemathesis config naming the
    seeded resources."""
    server.stop()
    server.env = {**server.env, "FNGATE_RATE_LIMITS": "off"}
    server.start()
    headers = server.mint()

    def post(path: str, body: dict[str, Any], **extra: str) -> Any:
        r = server.request("POST", path, headers={**headers, **extra}, json=body)
        assert r.status_code in (200, 201), r.text
        return r.json()

    post("/api/v1/projects", {"name": "fuzzp"})
    post("/api/v1/projects", {"name": "fuzzgone"})
    for name, runtime, code in (("calc", "python", PY_CODE), ("victim", "python", PY_CODE),
                                ("nodecalc", "nodejs", JS_CODE)):
        post("/api/v1/functions", {"name": name, "runtime": runtime, "code": code})
    trigger = post("/api/v1/functions/calc/triggers",
                   {"type": "http", "config": {"path": "/hello", "methods": ["GET", "POST"]}})
    job = post("/api/v1/functions/calc/invoke", {})
    session = post("/api/v1/initialize", {}, **{"Language-Title": "python-calc"})
    config = server.root / "schemathesis.toml"
    config.write_text(f"""\
[parameters]
"path.ref" = "calc"
"path.name" = "fuzzp"
"path.trigger_id" = "{trigger['id']}"
"path.version" = "1"
"path.path" = "hello"
"path.job_id" = "{job['id']}"
"path.request_id" = "{session['request_id']}"
"header.Language-Title" = "python-calc"

[[operations]]
include-path-regex = "^/api/v1/functions/\\\\{{ref\\\\}}(/versions|/rollback|$)"
exclude-method = "GET"
parameters = {{ "path.ref" = "victim" }}

[[operations]]
include-name = "DELETE /api/v1/projects/{{name}}"
parameters = {{ "path.name" = "fuzzgone" }}
""")
    yield server, headers, config


def test_no_generated_request_gets_a_server_error(
        fuzzed: tuple[Gateway, dict[str, str], Path]) -> None:
    script = _schemathesis()
    server, headers, config = fuzzed
    argv = [
        script, "--config-file", str(config), "run", server.url + "/openapi.json",
        "--header", f"Authorization: {headers['Authorization']}",
        "--checks", CHECKS, "--phases", "examples,fuzzing",
        "--max-examples", os.environ.get("FNGATE_FUZZ_EXAMPLES", "12"), "--seed", "1",
        "--workers", "1",
        "--request-timeout", "30", "--no-shrink",
    ]
    done = subprocess.run(argv, capture_output=True, text=True,
                          timeout=int(os.environ.get("FNGATE_FUZZ_TIMEOUT_S", "150")),
                          cwd=server.root, env={**os.environ, "NO_COLOR": "1"})
    assert done.returncode == 0, (
        done.stdout[-12000:] + done.stderr[-4000:] + "\n--- gateway log ---\n"
        + server.log_tail())
    assert "Tested: " in done.stdout and " 0 generated" not in done.stdout, done.stdout
    print(done.stdout[-3000:])  # the summary, for a longer run (FNGATE_FUZZ_EXAMPLES)
