"""A private PostgreSQL (the ``pgserver`` package) for ``fngate serve`` with no database URL."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

from config import Settings, ensure_data_dir

__all__ = ["EmbeddedPostgres", "embedded_pgdata"]

logger = logging.getLogger("fngate.embedded")


def embedded_pgdata(settings: Settings) -> Path:
    """Where the embedded cluster lives.

    Without root it is ``<data_dir>/pgdata``. As root, pgserver runs PostgreSQL as its
    own system user and adds o+rx to every parent of the cluster, so the cluster sits
    beside the data directory (``<data_dir>-pgdata``) and the data directory itself
    stays 0700, out of reach of function workers.
    """
    data = settings.data_path
    if os.geteuid() == 0:
        return data.with_name(data.name + "-pgdata")
    return data / "pgdata"


class EmbeddedPostgres:
    """Start and stop the private cluster; its data survives restarts."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._server: Any = None
        self.pgdata = embedded_pgdata(settings)

    async def start(self) -> str:
        """Start (or attach to) the cluster and return its connection URI."""
        ensure_data_dir(self._settings)
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        self._server = await asyncio.to_thread(self._start_blocking)
        uri: str = self._server.get_uri()
        logger.info("embedded PostgreSQL started", extra={"pgdata": str(self.pgdata)})
        return uri

    def _start_blocking(self) -> Any:
        import pgserver

        return pgserver.get_server(self.pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]

    async def stop(self) -> None:
        """Stop the cluster, keeping its data."""
        if self._server is not None:
            server, self._server = self._server, None
            await asyncio.to_thread(server.cleanup)
