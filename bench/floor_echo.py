"""The floor under any sync invoke here: the bare echo plus the least every invoke does.

A bare Starlette endpoint on Hypercorn + uvloop (as :mod:`bench.bare_echo`) that, per
request, makes one round trip of the body over pipes to a pre-started Python process (a
loop that decodes and encodes it as JSON, started with the interpreter the gateway's
workers run) and commits one row to PostgreSQL before it answers: one statement through a
pool made as the gateway makes the one its sync job records go through
(:func:`gateway.store.pool.create_pool`, not waiting for the WAL flush, by default). No
authentication, routing, sandbox or job record: what is left is the price of the steps
themselves on this machine, which no gateway that answers after its record is committed
(API.md) can go under.

    python -m bench.floor_echo PORT DSN [INTERPRETER]
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid

from hypercorn.asyncio import serve
from hypercorn.config import Config
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.store.pool import create_pool

__all__ = ["main"]

_HEADER = 4  # bytes of big-endian length before each frame, as executors/protocol.py

# The worker: standard library only, started -I -S as the gateway starts its own.
_WORKER = r"""
import json, os, sys
r, w = int(sys.argv[1]), int(sys.argv[2])
def exact(n):
    data = b""
    while len(data) < n:
        chunk = os.read(r, n - len(data))
        if not chunk:
            sys.exit(0)
        data += chunk
    return data
while True:
    body = exact(int.from_bytes(exact(4), "big"))
    out = json.dumps(json.loads(body)).encode()
    os.write(w, len(out).to_bytes(4, "big") + out)
"""

_TABLE = "bench_floor_rows"


class _Replies(asyncio.Protocol):
    """Frames from the worker, each to the request waiting for it (one at a time)."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.waiter: asyncio.Future[bytes] | None = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) < _HEADER:
            return
        size = int.from_bytes(self.buffer[:_HEADER], "big")
        if len(self.buffer) >= _HEADER + size and self.waiter is not None:
            body = bytes(self.buffer[_HEADER:_HEADER + size])
            del self.buffer[:_HEADER + size]
            self.waiter.set_result(body)


def _start_worker(interpreter: str) -> tuple[int, int]:
    """The worker process; the gateway's ends of its pipes (to it, from it)."""
    to_r, to_w = os.pipe()
    from_r, from_w = os.pipe()
    subprocess.Popen([interpreter, "-I", "-S", "-c", _WORKER, str(to_r), str(from_w)],
                     pass_fds=(to_r, from_w))
    os.close(to_r)
    os.close(from_w)
    return to_w, from_r


async def _app(dsn: str, to_w: int, from_r: int) -> Starlette:
    pool = await create_pool(dsn, min_size=1, max_size=4, wait_for_flush=False)
    await pool.execute(f"DROP TABLE IF EXISTS {_TABLE}")
    await pool.execute(f"CREATE TABLE {_TABLE} (id uuid PRIMARY KEY, result jsonb NOT NULL,"
                       " at timestamptz NOT NULL DEFAULT now())")
    loop = asyncio.get_running_loop()
    writer, _ = await loop.connect_write_pipe(asyncio.BaseProtocol, os.fdopen(to_w, "wb"))
    _, replies = await loop.connect_read_pipe(_Replies, os.fdopen(from_r, "rb"))
    lock = asyncio.Lock()

    async def invoke(request: Request) -> Response:
        body = await request.body()
        async with lock:  # one call at a time, as one worker takes them
            replies.waiter = loop.create_future()
            writer.write(len(body).to_bytes(_HEADER, "big") + body)
            result = await replies.waiter
        await pool.execute(f"INSERT INTO {_TABLE} (id, result) VALUES ($1, $2::jsonb)",
                           uuid.uuid4(), result.decode())
        return Response(result, media_type="application/json")

    return Starlette(routes=[Route("/invoke", invoke, methods=["POST"])])


async def _serve(port: int, dsn: str, pipes: tuple[int, int]) -> None:
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    await serve(await _app(dsn, *pipes), config)  # type: ignore[arg-type]


def main() -> None:
    import uvloop

    interpreter = sys.argv[3] if len(sys.argv) > 3 else sys.executable
    uvloop.run(_serve(int(sys.argv[1]), sys.argv[2], _start_worker(interpreter)))


if __name__ == "__main__":
    main()
