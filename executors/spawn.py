"""Every process that ``executors/`` starts is started here.

Workers, builds, probes and root's own tools (``nft``, ``useradd``) all go
through :func:`spawn` (async, long-lived processes) or :func:`run` (blocking,
to the end). Both start it through :class:`subprocess.Popen`, never the event
loop's ``create_subprocess_exec`` (uvloop, what ``fngate serve`` runs, forks the
whole gateway); :func:`spawn` does it in a thread.

One place decides how an identity is dropped (the worker's uid and gid, no
supplementary groups), so no spawn site can get it, or the loop, wrong: the child
execs ``setpriv`` (util-linux), which drops to them and execs the program. Popen's
own ``user=``/``group=`` would make CPython fork instead of vfork: a fork marks every
page of the gateway copy-on-write, and its next request then took about a thousand
page faults (1.2 ms here) as it wrote to them again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["DEVNULL", "PIPE", "STDOUT", "run", "spawn", "start"]

DEVNULL = subprocess.DEVNULL
PIPE = subprocess.PIPE
STDOUT = subprocess.STDOUT


# Where setpriv and env are looked for: the system's own directories, never the caller's PATH.
_SYSTEM_DIRS = "/usr/bin:/bin:/usr/sbin:/sbin"


@functools.cache
def _system_tool(name: str, package: str) -> str:
    path = shutil.which(name, path=_SYSTEM_DIRS)
    if path is None:
        raise FileNotFoundError(f"{name} (Debian: {package}) is needed to drop to a worker's uid")
    return path


# What glibc's dynamic loader and libc read from the environment of a program they do not
# treat as privileged (setpriv is not setuid): loaded libraries, module paths, debug
# output. setpriv and env run with root's capabilities; none of these may reach them.
_LOADER_VARIABLES = frozenset({
    "GCONV_PATH", "GETCONF_DIR", "GLIBC_TUNABLES", "HOSTALIASES", "LOCALDOMAIN", "LOCPATH",
    "NIS_PATH", "NLSPATH", "RESOLV_HOST_CONF", "RES_OPTIONS", "TZDIR",
})


def _as_identity(argv: Sequence[str], uid: int | None, gid: int | None,
                 env: Mapping[str, str] | None) -> list[str]:
    """``argv`` unchanged, or run as ``uid`` and ``gid`` (default: the uid's own) with no
    supplementary groups: root's (disk, adm, …) never reach a worker's uid.

    setpriv keeps root's capabilities up to its exec (it sets the gid after the uid), so
    the program would be found and opened as root: a binary under a directory the uid
    cannot enter would start, then fail on its own files. ``env`` execs it as the uid,
    with the uid's permissions (126 when it may not). Both read the environment while
    they hold root's capabilities: one that tells the loader what to load is refused, as
    is a program that is not an absolute path (env would search PATH, or take a name with
    ``=`` for a variable)."""
    if uid is None:
        if gid is not None:
            raise ValueError("a gid without a uid")
        return list(argv)
    program = argv[0] if argv else ""
    if not os.path.isabs(program) or "=" in program:
        raise ValueError(f"a program run as a uid needs an absolute path without '=': {program!r}")
    unsafe = sorted(k for k in (os.environ if env is None else env)
                    if k.startswith(("LD_", "MALLOC_")) or k in _LOADER_VARIABLES)
    if unsafe:
        raise ValueError(f"not passed to a process dropping to a uid: {', '.join(unsafe)}")
    gid = uid if gid is None else gid
    return [_system_tool("setpriv", "util-linux"), f"--reuid={uid}", f"--regid={gid}",
            "--clear-groups", "--", _system_tool("env", "coreutils"), "--", *argv]


class _Popen(subprocess.Popen[bytes]):
    """A Popen that never loses its child. Popen can fail after the fork, on a step of the
    parent's own (closing its copy of /dev/null or of a pipe end, reading the exec status):
    an EBADF there once another thread had closed that descriptor under it. The child then
    runs on, in no one's hands, until the garbage collector finds the Popen. It is killed
    and reaped here before the error goes on."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().__init__(*args, **kwargs)
        except BaseException:
            if getattr(self, "_child_created", False) and self.returncode is None:
                _kill_and_reap(self)
            raise


def start(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str,
    uid: int | None = None,
    gid: int | None = None,
    stdout: int | None = DEVNULL,
    stderr: int | None = DEVNULL,
    pass_fds: Sequence[int] = (),
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a new session (its own process group, so a kill of the group ends
    it and what it forked), stdin from /dev/null, as ``uid``/``gid`` when given (blocking:
    the start; :func:`spawn` does it in a thread). Past the drop to ``uid``, a program that
    cannot be executed is an exit status (126, 127: env's), not an OSError."""
    return _Popen(
        _as_identity(argv, uid, gid, env),
        stdin=DEVNULL,
        stdout=stdout,
        stderr=stderr,
        pass_fds=tuple(pass_fds),
        cwd=cwd,
        env=dict(env),
        start_new_session=True,
    )


async def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str,
    uid: int | None = None,
    gid: int | None = None,
    stdout: int | None = DEVNULL,
    stderr: int | None = DEVNULL,
    pass_fds: Sequence[int] = (),
    close_after: Sequence[int] = (),
) -> subprocess.Popen[bytes]:
    """:func:`start` in a thread, on any event loop.

    ``close_after``: the child's ends of pipes, closed in the parent once the child
    holds them (or the start failed). A caller cancelled while the fork is under way
    never leaves an unwatched process: it is killed (its group) and reaped."""
    spawning = asyncio.ensure_future(
        asyncio.to_thread(
            start, argv, env=env, cwd=cwd, uid=uid, gid=gid,
            stdout=stdout, stderr=stderr, pass_fds=pass_fds,
        )
    )  # fmt: skip
    try:
        # Shielded: the fork finishes either way, and its process must not be lost.
        return await asyncio.shield(spawning)
    except asyncio.CancelledError:
        spawning.add_done_callback(_kill_orphan)
        raise
    finally:
        if spawning.done():
            _close_all(close_after)
        elif close_after:
            spawning.add_done_callback(lambda _f: _close_all(close_after))


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None,
    timeout: float | None,
    cwd: str | None = None,
    uid: int | None = None,
    gid: int | None = None,
    input: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``argv`` to its end, output captured, killed after ``timeout`` s unless None
    (blocking: call it in a thread from async code). ``env=None`` passes the gateway's
    environment: only for root's own tools, never for what runs as a worker's uid."""
    return subprocess.run(
        _as_identity(argv, uid, gid, env),
        input=input,
        stdin=None if input is not None else DEVNULL,
        capture_output=True,
        timeout=timeout,
        cwd=cwd,
        env=None if env is None else dict(env),
        check=False,
    )


def _close_all(fds: Sequence[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def _kill_orphan(spawning: asyncio.Future[subprocess.Popen[bytes]]) -> None:
    if spawning.cancelled() or spawning.exception() is not None:
        return
    _kill_and_reap(spawning.result())


def _kill_and_reap(popen: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process and its group, and reap it (at once: nothing outlives SIGKILL)."""
    # The process itself too: a child that failed early may not have its own group yet.
    for kill in (os.killpg, os.kill):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            kill(popen.pid, signal.SIGKILL)
    popen.wait()
