"""A database that goes away: 503 UNAVAILABLE and /health down, never a 500."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from tests.conftest import auth, running_app


class _Proxy:
    """A TCP proxy to PostgreSQL that can be cut, to take the database away for real."""

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._cut = False
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        if self._cut:  # accepted as the cut happened: close it like the others
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", 5432)
        self._writers.append(up_writer)
        if self._cut:
            writer.close()
            up_writer.close()
            return

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def cut(self) -> None:
        assert self._server is not None
        self._cut = True
        self._server.close()
        for w in self._writers:
            w.close()
        await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def proxy() -> AsyncIterator[_Proxy]:
    p = _Proxy()
    await p.start()
    try:
        yield p
    finally:
        with contextlib.suppress(Exception):
            await p.cut()


async def test_database_outage_is_503_not_500(settings_factory, database_url: str) -> None:
    async with proxy() as p:
        via_proxy = database_url.replace("127.0.0.1:5432", f"127.0.0.1:{p.port}")
        async with running_app(settings_factory(database_url=via_proxy)) as c:
            assert (await c.get("/ready")).status_code == 200
            await p.cut()
            r = await c.get("/api/v1/functions", headers=auth("read:functions"))
            assert r.status_code == 503, r.text
            assert r.json()["error"]["code"] == "UNAVAILABLE"
            assert r.headers["retry-after"] and r.headers["x-request-id"]
            h = await c.get("/health")
            assert h.status_code == 503 and h.json()["components"]["database"] == "down"
            assert (await c.get("/ready")).status_code == 503
