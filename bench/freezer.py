"""What freezing and thawing a worker costs, with and without a frozen hold (cgroup v1).

    python -m bench.freezer [--cycles 300] [--pause 0.3]

As root on a host with the cgroup v1 freezer. A sleeping process is put in a cgroup of its
own, which is frozen and thawed as the gateway does with an idle worker: first alone (no
other cgroup frozen: the kernel's freezer static key is switched on and off each time),
then beside an empty cgroup kept frozen (``CgroupRoot.hold_freezer``). Each freeze and
thaw is timed back to back and after ``--pause`` seconds idle, as a worker called again
after a pause is thawed. It prints the medians and the ratio held / alone.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from executors.limits import CgroupRoot

__all__ = ["main"]


def _cycle_us(cg_state: Path, cycles: int, pause_s: float) -> tuple[float, float]:
    """Median microseconds of a freeze and of a thaw."""
    fd = os.open(cg_state, os.O_WRONLY | os.O_CLOEXEC)
    freezes, thaws = [], []
    try:
        for _ in range(cycles):
            start = time.perf_counter()
            os.write(fd, b"FROZEN")
            freezes.append((time.perf_counter() - start) * 1e6)
            time.sleep(max(pause_s, 0.002))
            start = time.perf_counter()
            os.write(fd, b"THAWED")
            thaws.append((time.perf_counter() - start) * 1e6)
    finally:
        os.close(fd)
    return statistics.median(freezes), statistics.median(thaws)


def _frozen_elsewhere(freezer_fs: Path, ours: Path) -> list[Path]:
    """Other cgroups frozen now: with any, "alone" is not alone (the key is on already)."""
    return [state.parent for state in freezer_fs.rglob("freezer.state")
            if state.parent != ours and state.read_text().strip() != "THAWED"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=300)
    parser.add_argument("--pause", type=float, default=0.3)
    args = parser.parse_args(argv)
    root = CgroupRoot.detect("fngate-bench")
    if root is None or root.version != 1 or root.freezer is None:
        print("needs root and the cgroup v1 freezer", file=sys.stderr)
        return 2
    cg = root.create(f"{os.getpid()}-freezer-bench", 64)
    sleeper = subprocess.Popen(["sleep", "3600"])
    try:
        cg.add(sleeper.pid)
        assert cg.freezer is not None
        state = cg.freezer / "freezer.state"
        others = _frozen_elsewhere(Path("/sys/fs/cgroup/freezer"), cg.freezer)
        if others:
            print(f"note: {len(others)} other cgroup(s) frozen (e.g. {others[0]}): the"
                  " 'alone' column is not alone", file=sys.stderr)
        rows = []
        for label, pause in (("back to back", 0.0), (f"after {args.pause} s idle", args.pause)):
            cycles = args.cycles if pause == 0 else max(20, args.cycles // 10)
            alone = _cycle_us(state, cycles, pause)
            root.hold_freezer(f"{os.getpid()}-freezer-bench")
            try:
                held = _cycle_us(state, cycles, pause)
            finally:
                root.release_freezer()
            rows.append((label, alone, held))
        print(f"{'':22} {'freeze alone':>12} {'held':>8} {'ratio':>6}"
              f" {'thaw alone':>11} {'held':>8} {'ratio':>6}  (µs, medians)")
        for label, (fa, ta), (fh, th) in rows:
            print(f"{label:22} {fa:12.1f} {fh:8.1f} {fh / fa:6.2f}"
                  f" {ta:11.1f} {th:8.1f} {th / ta:6.2f}")
    finally:
        sleeper.kill()
        sleeper.wait()
        cg.thaw()
        for _ in range(50):
            if cg.remove():
                break
            time.sleep(0.02)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
