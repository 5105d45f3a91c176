"""``python -m bench --quick`` runs every scenario of the suite end to end (no timing asserts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from tests.conftest import need_service

ROOT = Path(__file__).resolve().parents[2]


def test_bench_quick_runs_every_scenario_and_writes_results(tmp_path: Path) -> None:
    from bench.scenarios import SCENARIOS

    amqp = urlsplit(os.environ.get("FNGATE_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"))
    need_service("RabbitMQ", amqp.hostname or "127.0.0.1", amqp.port or 5672)
    output = tmp_path / "results.json"
    # Each gateway gets its own embedded PostgreSQL and default settings, as from the README.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("FNGATE_") or k == "FNGATE_AMQP_URL"}
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--output", str(output)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    results = json.loads(output.read_text())
    assert results["quick"] is True
    assert set(results["scenarios"]) == set(SCENARIOS)
    for name, scenario in results["scenarios"].items():
        assert scenario["status"] == "ok", (name, scenario["reason"])
        assert scenario["rows"], name
        assert all(row["fngate"] is not None for row in scenario["rows"]), name
