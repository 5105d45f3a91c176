"""Run the benchmark suite: every scenario of issue 6, a table, and bench/results.json.

    python -m bench [--quick] [--only SCENARIO ...] [--output PATH]

Each scenario starts its own ``fngate serve`` (embedded PostgreSQL) and the bare
baseline, warms up, then measures; figures are ratios fngate / baseline measured in the
same run. ``--quick`` runs every scenario smaller, all on one shared gateway (a smoke
test, a couple of minutes: its figures are not the suite's; ``dependency-build`` starts a
gateway of its own even then, for a build cache of its own). The exit status is 1 when a
scenario failed to run or lost work, not when a target is missed.

``dialects`` (issue 15) runs a gateway with every compatibility dialect and one with
``FNGATE_DIALECTS=none`` side by side, and compares their native throughput in
alternating rounds (bench/scenarios/dialects.py).

``soak`` (issue 12) runs 30 minutes of mixed sync, async, cron and queue load on a gateway
of its own with a 5-minute job retention (``--quick``: 5 s; ``FNGATE_SOAK_S`` sets the
length): every event handled exactly once, the jobs table and the gateway's RSS flat, live
workers within the cap (bench/scenarios/soak.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from bench._report import Outcome, format_table
from bench.queue import AMQP_URL
from bench.scenarios import SCENARIOS, Config, Gateways, rabbitmq_reachable

__all__ = ["main"]

DEFAULT_OUTPUT = Path(__file__).with_name("results.json")


def _run_one(name: str, cfg: Config, gateways: Gateways) -> Outcome:
    print(f"-- {name} ...", file=sys.stderr, flush=True)
    start = time.perf_counter()
    try:
        outcome = SCENARIOS[name](cfg, gateways)
    except Exception as exc:  # one broken scenario must not hide the others' figures
        traceback.print_exc()
        outcome = Outcome(scenario=name, status="error", reason=f"{type(exc).__name__}: {exc}")
    outcome.seconds = round(time.perf_counter() - start, 2)
    print(f"   {name}: {outcome.status} in {outcome.seconds:.1f} s", file=sys.stderr,
          flush=True)
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer calls, jobs, functions")
    parser.add_argument("--only", action="append", choices=list(SCENARIOS), default=None,
                        metavar="SCENARIO", help=f"run only these: {', '.join(SCENARIOS)}")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help=f"where to write the JSON results (default {DEFAULT_OUTPUT})")
    args = parser.parse_args(argv)
    cfg = Config.small() if args.quick else Config.full()
    names = args.only or list(SCENARIOS)
    started = datetime.now(UTC)
    start = time.perf_counter()
    shared = {"FNGATE_AMQP_URL": AMQP_URL} if rabbitmq_reachable() else {}
    gateways = Gateways(shared=shared if cfg.quick else None)
    try:
        outcomes = [_run_one(name, cfg, gateways) for name in names]
    finally:
        gateways.close()
    total = time.perf_counter() - start
    print(format_table(outcomes))
    print(f"{len(outcomes)} scenarios in {total:.0f} s{' (--quick)' if cfg.quick else ''}")
    results = {
        "started_at": started.isoformat(),
        "seconds": round(total, 2),
        "quick": cfg.quick,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(), "load_avg": os.getloadavg()},
        "scenarios": {o.scenario: o.to_json() for o in outcomes},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results: {args.output}")
    return 1 if any(o.status == "error" for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
