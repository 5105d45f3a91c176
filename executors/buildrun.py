"""Running one build tool to its end, and publishing what it made.

Shared by dependency builds (:mod:`executors.build`) and compiles
(:mod:`executors.compile`): the tool runs in its own process group with a
bounded log and a time limit; its output directory is published root-owned and
read-only for everyone else, so no function can modify what others load.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import secrets
import signal
import stat
import subprocess
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar, copy_context
from pathlib import Path
from typing import Any, Generic, TypeVar

from executors import spawn
from executors.budget import BuildQueued
from executors.sandbox import RLimits

__all__ = ["BUILD_RLIMITS", "BUILD_TIMEOUT_S", "BUILD_TMP_MB", "MAX_BUILD_LOG_BYTES",
           "BuildSlot", "SharedBuilds", "drain_bounded", "in_slot", "killpg", "name_key",
           "no_slot", "publish_tree", "published_name", "run_tool", "tail"]

BUILD_TIMEOUT_S = 300.0
MAX_BUILD_LOG_BYTES = 64 * 1024
BUILD_TMP_MB = 1024  # the size cap of a build sandbox's /tmp
BUILD_RLIMITS = RLimits(nofile=4096, fsize=1024 * 1024 * 1024, nproc=4096)

#: Held around each build process (a dependency install, a compile): the worker pools
#: hand out a slot of their worker budget, so builds count against FNGATE_MAX_WORKERS.
BuildSlot = Callable[[], AbstractAsyncContextManager[None]]


def no_slot() -> AbstractAsyncContextManager[None]:
    """A builder or compiler used on its own, outside any worker pools: no budget."""
    return contextlib.nullcontext()


# Set in each shared build's task (and the tasks it starts): told once the build holds a
# slot of the worker budget, so a caller with a deadline knows it is no longer queued.
_SLOT_HELD: ContextVar[asyncio.Event | None] = ContextVar("fngate_build_slot_held",
                                                          default=None)


@contextlib.asynccontextmanager
async def in_slot(slot: BuildSlot) -> AsyncIterator[None]:
    """``slot()`` around one build process, telling the build it runs for that it has
    left the queue."""
    async with slot():
        held = _SLOT_HELD.get()
        if held is not None:
            held.set()
        yield


R = TypeVar("R")


class SharedBuilds(Generic[R]):
    """The builds in progress, one task per digest shared by every caller (a deploy and
    the calls that need the same build): a caller giving up never ends the build the
    others wait for."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._running: dict[str, tuple[asyncio.Task[R], asyncio.Event]] = {}

    def tasks(self) -> list[asyncio.Task[R]]:
        """The builds' tasks (to cancel them at shutdown)."""
        return [task for task, _held in self._running.values()]

    async def join(self, digest: str, build: Callable[[], Coroutine[Any, Any, R]], *,
                   slot_wait_s: float | None = None) -> R:
        """The result of the build of ``digest``, starting it with ``build()`` unless it
        runs already. With ``slot_wait_s``, :class:`BuildQueued` when by then the build
        still waits for a slot of the worker budget (it stays queued, for whoever else
        waits and for the next call); once it runs, it is awaited to its end (its own
        time limit bounds it). None: as long as it takes (background deploys)."""
        running = self._running.get(digest)
        if running is None:
            held = asyncio.Event()
            context = copy_context()
            context.run(_SLOT_HELD.set, held)
            task = asyncio.create_task(build(), name=f"fngate-{self._what}-{digest[:12]}",
                                       context=context)
            self._running[digest] = running = task, held
            task.add_done_callback(lambda _t: self._running.pop(digest, None))
        task, held = running
        if slot_wait_s is not None and not held.is_set():
            started = asyncio.ensure_future(held.wait())
            try:
                await asyncio.wait((task, started), timeout=slot_wait_s,
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                started.cancel()
            if not task.done() and not held.is_set():
                raise BuildQueued(f"the {self._what} got no worker slot within {slot_wait_s:.1f}"
                                  " s: every slot of FNGATE_MAX_WORKERS is held")
        return await asyncio.shield(task)


def name_key(base: Path) -> bytes:
    """The secret that names published builds (created once, 0600, in the 0711 base)."""
    path = base / ".name-key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes()
        if len(key) >= 32:
            return key
        raise RuntimeError(f"{path} is damaged: remove it (the build cache is rebuilt)") from None
    key = secrets.token_bytes(32)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


def published_name(key: bytes, digest: str) -> str:
    """The directory name of a published build: a keyed hash of its digest.

    The base is 0711 (no listing) and the key is root's alone, so a worker finds only
    the build whose path it was handed: another function's build cannot be named."""
    return hmac.new(key, digest.encode(), hashlib.sha256).hexdigest()[:40]


def tail(data: bytes, limit: int = MAX_BUILD_LOG_BYTES) -> str:
    """The end of a log, at most ``limit`` bytes of it, marked when cut."""
    if len(data) <= limit:
        return data.decode("utf-8", "replace")
    cut = data[-limit:]
    return "[... build log truncated ...]\n" + cut.decode("utf-8", "replace")


def publish_tree(root: Path) -> None:
    """Make ``root`` root-owned (the gateway's user), read-only for others: 0755 / 0644."""
    uid, gid = os.geteuid(), os.getegid()
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames, ""]:
            path = os.path.join(dirpath, name) if name else dirpath
            st = os.lstat(path)
            os.chown(path, uid, gid, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                continue
            if stat.S_ISDIR(st.st_mode):
                os.chmod(path, 0o755)
            elif stat.S_ISREG(st.st_mode):
                os.chmod(path, 0o755 if st.st_mode & 0o100 else 0o644)
            else:  # fifos, sockets, devices have no business in a package
                os.unlink(path)


def drain_bounded(proc: subprocess.Popen[bytes]) -> bytes:
    """Read the tool's output to its end keeping only the last 2 × MAX_BUILD_LOG_BYTES (a
    build printing for minutes must not grow the gateway), then reap it (blocking)."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    buf = bytearray()
    dropped = False
    try:
        while chunk := os.read(fd, 65536):
            buf.extend(chunk)
            if len(buf) > 2 * MAX_BUILD_LOG_BYTES:
                del buf[: len(buf) - MAX_BUILD_LOG_BYTES]
                dropped = True
    except BaseException:
        killpg(proc.pid)  # unread, it could block on a full pipe and never exit
        raise
    finally:
        proc.wait()  # reaped whatever happened: nothing else waits for it
        proc.stdout.close()
    return (b"[... build log truncated ...]\n" if dropped else b"") + bytes(buf)


def killpg(pid: int) -> None:
    """SIGKILL the process group ``pid`` leads, if any of it is left."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


async def run_tool(argv: Sequence[str], *, env: Mapping[str, str], cwd: str,
                   uid: int | None, gid: int | None,
                   timeout_s: float = BUILD_TIMEOUT_S) -> tuple[int, str]:
    """Run the tool in its own session; (exit code, log tail); -9 on timeout."""
    proc = await spawn.spawn(argv, env=env, cwd=cwd, uid=uid, gid=gid,
                             stdout=spawn.PIPE, stderr=spawn.STDOUT)
    header = "$ " + " ".join(argv) + "\n"
    drained = asyncio.ensure_future(asyncio.to_thread(drain_bounded, proc))
    try:
        out = await asyncio.wait_for(asyncio.shield(drained), timeout_s)
    except TimeoutError:
        killpg(proc.pid)
        out = await drained  # the pipe closes with the group: the drain ends
        log = tail(header.encode() + out)
        return -9, log + f"\nbuild timed out after {timeout_s:.0f} s\n"
    except BaseException:
        killpg(proc.pid)
        with contextlib.suppress(BaseException):
            await asyncio.shield(drained)
        raise
    finally:
        # Whatever the tool left running in its group goes too.
        killpg(proc.pid)
    code = proc.returncode
    log = tail(header.encode() + out)
    if code != 0:
        log += f"\nbuild failed: exit code {code}\n"
    return code, log
