"""A TCP proxy in front of a real service, whose connections a test can cut."""

from __future__ import annotations

import asyncio
import contextlib


class TcpProxy:
    """Forwards 127.0.0.1:<port> to 127.0.0.1:<upstream_port>.

    ``cut()`` aborts every open connection, as a service restart would; new ones still get
    through. ``pause()`` also refuses new ones until ``resume()``. ``take_down()`` also
    stops accepting, as a service that is gone.
    """

    def __init__(self, upstream_port: int) -> None:
        self._upstream_port = upstream_port
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._down = False
        self.port = 0

    async def __aenter__(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        with contextlib.suppress(Exception):
            await self.take_down()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        if self._down:  # accepted as it went down: closed like the others
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._upstream_port)
        self._writers.append(up_writer)
        if self._down:
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

    def cut(self) -> None:
        writers, self._writers = self._writers, []
        for w in writers:
            w.transport.abort()

    def pause(self) -> None:
        """Cut every open connection and refuse new ones (accepted, then closed) until
        :meth:`resume`, as a network partition would."""
        self._down = True
        self.cut()

    def resume(self) -> None:
        self._down = False

    async def take_down(self) -> None:
        assert self._server is not None
        self._down = True
        self._server.close()
        for w in self._writers:
            w.close()
        await asyncio.sleep(0.1)
