"""Serve the gateway with Hypercorn on uvloop until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import resource
import signal

from hypercorn.asyncio import serve
from hypercorn.config import Config

from config import Settings
from gateway.app import create_app

__all__ = ["run_server"]

logger = logging.getLogger("fngate.server")


async def _serve(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def fatal(reason: str) -> None:
        logger.critical("stopping: %s", reason)
        stop.set()

    app = create_app(settings, on_fatal=fatal, freeze_gc=True)
    config = Config()
    config.bind = [f"{settings.host}:{settings.port}"]
    config.backlog = 1024
    config.graceful_timeout = 10.0
    config.accesslog = None
    config.include_server_header = False  # nothing to gain from naming the server software
    logger.info("fngate listening on http://%s:%s", settings.host, settings.port)
    await serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]


def _raise_open_files() -> None:
    """Lift this process's open-file limit to its hard limit (as Go does at start): each
    worker holds pipes, a pidfd and cgroup files open here, and a service manager's
    default soft limit of 1024 is reached long before FNGATE_MAX_WORKERS. Workers get
    limits of their own (docs/isolation.md)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (OSError, ValueError) as exc:
            logger.warning("open-file limit stays %d (%s)", soft, exc)


def run_server(settings: Settings) -> None:
    """Run until a signal (or a dead background loop) stops the gateway."""
    import uvloop

    _raise_open_files()
    uvloop.run(_serve(settings))
