"""Cold and warm invoke latency of fngate, per runtime, against a bare Starlette echo.

    python -m bench.latency [--calls 50] [--cold 20] [--gap 0.3]

Times sequential calls from this process against a real ``fngate serve`` and the
bare baseline started side by side; prints medians and the ratio fngate / baseline.
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench._harness import harness, median_ms, timed_ms

CODE = {
    "python": "def handler(event):\n    return event\n",
    "nodejs": "function handler(event) { return event }",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--cold", type=int, default=20)
    parser.add_argument("--gap", type=float, default=0.3, help="seconds between cold starts")
    args = parser.parse_args()
    with harness() as h:
        client = h.client
        baseline = median_ms(client, h.bare_url, {"x": 1}, args.calls, warmup=20)
        print(f"bare Starlette echo: median {baseline:.2f} ms over {args.calls} calls")
        print(f"{'runtime':8} {'warm ms':>9} {'x bare':>8} {'cold ms':>9} {'x bare':>8}")
        for runtime, code in CODE.items():
            names = [f"bench-{runtime}-{i}" for i in range(args.cold + 1)]
            for name in names:
                client.post("/api/v1/functions", json={
                    "name": name, "runtime": runtime, "code": code}).raise_for_status()
            cold = []
            for name in names[1:]:
                time.sleep(args.gap)  # let the generic pool refill, as between real arrivals
                cold.append(timed_ms(client, f"/api/v1/functions/{name}/invoke", {"x": 1}))
            warm = median_ms(client, f"/api/v1/functions/{names[0]}/invoke", {"x": 1},
                             args.calls)
            cold_m = statistics.median(cold)
            print(f"{runtime:8} {warm:9.2f} {warm / baseline:8.2f} {cold_m:9.2f} "
                  f"{cold_m / baseline:8.2f}")


if __name__ == "__main__":
    main()
