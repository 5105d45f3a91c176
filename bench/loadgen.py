"""A closed-loop HTTP/1.1 load generator, run in its own process.

    python -m bench.loadgen URL [--connections 16] [--duration 5] [--warmup 1]
                           [--requests N] [--method POST] [--body JSON]
                           [--header "Name: value"]... [--expect STATUS]

Each connection is a raw keep-alive asyncio stream (uvloop) that sends the same request
again as soon as the previous response is read: far less client CPU per request than
httpx, which matters when client and server share two cores. Requests started during
the warm-up are not counted. With ``--requests N`` it sends exactly N requests in all,
with no warm-up, and stops. Prints one JSON object: requests, errors (non-2xx, or with
``--expect`` another status than that one, to measure e.g. a 404; or broken
connections), answered (every response read, warm-up included), statuses, seconds, rps,
latency percentiles in ms, the p50 of each whole second measured (``p50_by_second_ms``: a
burst of load from elsewhere on the machine shows as one bad second), and the wall-clock
``started_at`` / ``ended_at`` (epoch seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = ["main"]


@dataclass(slots=True)
class _Tally:
    measure_from: float
    stop_at: float
    budget: int | None = None  # requests left to send in fixed-count mode
    expect: int | None = None  # the status every response must have (None: any 2xx)
    latencies: list[float] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    answered: int = 0  # responses read, warm-up included


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response; return its status and whether the server keeps the connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length: int | None = None
    chunked = False
    keep = True
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        value = value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value:
            chunked = True
        elif name == "connection" and value == "close":
            keep = False
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status, keep


async def _connection(host: str, port: int, request: bytes, tally: _Tally) -> None:
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    while time.perf_counter() < tally.stop_at:
        if tally.budget is not None:
            if tally.budget <= 0:
                break
            tally.budget -= 1
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            assert reader is not None
            start = time.perf_counter()
            writer.write(request)
            status, keep = await _read_response(reader)
            end = time.perf_counter()
            tally.answered += 1
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            tally.errors += 1
            if tally.budget is not None:
                tally.budget += 1  # an exact count of answered requests; errors are reported
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.01)
            continue
        if start >= tally.measure_from:
            tally.latencies.append(end - start)
            tally.starts.append(start - tally.measure_from)
            tally.statuses[status] = tally.statuses.get(status, 0) + 1
            if (status != tally.expect if tally.expect is not None
                    else not 200 <= status < 300):
                tally.errors += 1
        if not keep:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * len(sorted_values)) - 1))
    return sorted_values[index]


def _request(method: str, url: str, body: bytes, headers: list[str]) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or 80
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}:{port}", "Connection: keep-alive"]
    if method != "GET":
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    lines += headers
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return host, port, raw + (body if method != "GET" else b"")


async def run(url: str, *, connections: int, duration_s: float, warmup_s: float,
              method: str = "POST", body: bytes = b"{}", headers: list[str] | None = None,
              requests: int | None = None, expect: int | None = None) -> dict[str, object]:
    """Drive ``url`` with ``connections`` closed loops; return the figures printed by main."""
    host, port, request = _request(method, url, body, headers or [])
    if requests is not None:
        warmup_s, duration_s = 0.0, 3600.0
    now = time.perf_counter()
    tally = _Tally(measure_from=now + warmup_s, stop_at=now + warmup_s + duration_s,
                   budget=requests, expect=expect)
    started_at = time.time() + warmup_s
    await asyncio.gather(*(_connection(host, port, request, tally)
                           for _ in range(connections)))
    if requests is not None:
        duration_s = time.perf_counter() - now
    by_second: dict[int, list[float]] = {}
    for start, latency in zip(tally.starts, tally.latencies, strict=True):
        by_second.setdefault(int(start), []).append(latency)
    whole = [sorted(v) for k, v in sorted(by_second.items()) if k + 1 <= duration_s]
    latencies = sorted(tally.latencies)
    return {
        "requests": len(latencies),
        "answered": tally.answered,
        "errors": tally.errors,
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "seconds": duration_s,
        "connections": connections,
        "started_at": started_at,
        "ended_at": time.time(),
        "rps": len(latencies) / duration_s,
        "p50_ms": _percentile(latencies, 0.50) * 1000,
        "p90_ms": _percentile(latencies, 0.90) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
        "max_ms": (latencies[-1] if latencies else float("nan")) * 1000,
        "p50_by_second_ms": [_percentile(v, 0.50) * 1000 for v in whole],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first")
    parser.add_argument("--requests", type=int, default=None,
                        help="send exactly this many requests (no warm-up, no duration)")
    parser.add_argument("--method", default="POST", choices=["GET", "POST"])
    parser.add_argument("--body", default="{}", help="the JSON body of every request")
    parser.add_argument("--header", action="append", default=[], help='"Name: value"')
    parser.add_argument("--expect", type=int, default=None,
                        help="the status every response must have (default: any 2xx)")
    args = parser.parse_args(argv)
    import uvloop

    result = uvloop.run(run(args.url, connections=args.connections, duration_s=args.duration,
                            warmup_s=args.warmup, method=args.method,
                            body=args.body.encode(), headers=args.header,
                            requests=args.requests, expect=args.expect))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
