"""Session execute latency, cache hit and warm run, against a bare Starlette endpoint.

    python -m bench.sessions [--calls 200]

The baseline returns the same JSON body; all three are timed in one run, from one
client, sequentially; prints medians and the ratio fngate / baseline.
"""

from __future__ import annotations

import argparse

from bench._harness import harness, median_ms

CODE = "function handler(p) { return { value: p.values.reduce((a, b) => a + b, 0) } }"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    params = {"operation": "add", "values": [1, 2, 3]}
    with harness() as h:
        client = h.client
        client.post("/api/v1/functions", json={
            "name": "calculator", "runtime": "nodejs", "code": CODE}).raise_for_status()
        sid = client.post("/api/v1/initialize", json={},
                          headers={"Language-Title": "nodejs-calculator"}).json()["request_id"]
        url = f"/api/v1/execute/{sid}"
        baseline = median_ms(client, h.bare_url, {"result": {"value": 6}}, args.calls, warmup=50)
        hit = median_ms(client, url, {"params": params}, args.calls, warmup=20)
        warm = median_ms(client, url, {"params": params}, args.calls,
                         headers={"X-Cache-Control": "no-store"}, warmup=20)
        print(f"{'case':28} {'median ms':>10} {'x bare':>8}")
        print(f"{'bare Starlette JSON':28} {baseline:10.3f} {1:8.2f}")
        print(f"{'execute, cache hit':28} {hit:10.3f} {hit / baseline:8.2f}")
        print(f"{'execute, warm run (no-store)':28} {warm:10.3f} {warm / baseline:8.2f}")


if __name__ == "__main__":
    main()
