"""One worker process: spawn, wait until ready, specialize, call, kill.

A worker runs one runner program (``runners/``) in its own process group,
private directory, cgroup and (as root) unprivileged user. The gateway talks
to it with :mod:`executors.protocol` frames on a dedicated pipe pair; the
worker's real stdout/stderr are pipes too, drained here, and attributed on a
best-effort basis to the call that is running (a child process of the
function may write there). Exit is watched with a pidfd, so a worker that
dies mid-call is noticed at once even if a grandchild keeps its pipes open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Literal

import orjson
import uvloop

from executors import limits, protocol, spawn
from executors.limits import WorkerCgroup, WorkerUser
from executors.models import (
    CallContext,
    CodeSpec,
    ErrorInfo,
    ExecutionResult,
    LogLine,
    Network,
    Runtime,
)
from executors.runtimes import SYSTEM_PATH, RuntimeCommand
from executors.sandbox import (
    DEPS_IN_SANDBOX,
    SANDBOX_HOME,
    Sandbox,
    SandboxUnavailable,
    UidLease,
    UidPool,
    check_limits,
)

__all__ = ["LogSink", "Worker", "WorkerFailed"]

logger = logging.getLogger("fngate.executors")

READY_TIMEOUT_S = 20.0
FREEZE_AFTER_S = 0.05  # an idle worker is frozen after this long
# How often, and how many times, a freeze is looked at until it has taken hold.
_FROZEN_POLL_S = 0.005
_FROZEN_POLLS = 20
_START_LINES = 5  # lines of a worker's output before ready kept for its start error
_WATCHDOG_PERIOD_S = 0.05


class WorkerFailed(Exception):
    """A worker could not be started or specialized (not the user's code)."""


class _Died(Exception):
    def __init__(self, returncode: int | None) -> None:
        super().__init__(returncode)
        self.returncode = returncode


class LogSink:
    """Collects one call's log lines, capped at ``max_bytes``, forwarding each to ``on_log``."""

    __slots__ = ("lines", "truncated", "_left", "_on_log")

    def __init__(self, max_bytes: int, on_log: Callable[[LogLine], None] | None) -> None:
        self.lines: list[LogLine] = []
        self.truncated = False
        self._left = max_bytes
        self._on_log = on_log

    def add(self, stream: Literal["stdout", "stderr"], message: str, ts: float) -> None:
        """Record one line unless the cap is reached (then mark the logs truncated)."""
        size = len(message.encode("utf-8", "replace")) + 1
        if size > self._left:
            self.truncated = True
            self._left = 0
            return
        self._left -= size
        line = LogLine(timestamp=ts, stream=stream, message=message)
        self.lines.append(line)
        if self._on_log is not None:
            try:
                self._on_log(line)
            except Exception:  # a broken log consumer must not break the call
                logger.exception("on_log callback failed")


class _FrameReader(asyncio.Protocol):
    def __init__(self, worker: Worker) -> None:
        self._worker = worker
        self._decoder = protocol.FrameDecoder()

    def data_received(self, data: bytes) -> None:
        try:
            frames = self._decoder.feed(data)
        except protocol.FrameError as exc:
            logger.warning("worker %s sent a bad frame: %s", self._worker.name, exc)
            self._worker.kill()
            return
        for frame in frames:
            self._worker._on_frame(frame)

    def connection_lost(self, exc: Exception | None) -> None:
        # A runner closes its pipe only by exiting; make sure the group goes too.
        self._worker.kill()


class _LineReader(asyncio.Protocol):
    def __init__(self, worker: Worker, stream: Literal["stdout", "stderr"]) -> None:
        self._worker = worker
        self._stream: Literal["stdout", "stderr"] = stream
        self._partial = b""

    def data_received(self, data: bytes) -> None:
        *lines, self._partial = (self._partial + data).split(b"\n")
        if len(self._partial) > 8192:
            lines.append(self._partial)
            self._partial = b""
        for raw in lines:
            self._worker._on_stray(self._stream, raw.decode("utf-8", "replace"))

    def connection_lost(self, exc: Exception | None) -> None:
        if self._partial:
            self._worker._on_stray(self._stream, self._partial.decode("utf-8", "replace"))


def _pipe_file(loop: asyncio.AbstractEventLoop, fd: int, mode: Literal["rb", "wb"]) -> IO[bytes]:
    """``fd`` as the file object a pipe transport of ``loop`` takes over, so that it is
    closed exactly once.

    uvloop's transports close the descriptor themselves (libuv), then close the file
    object as well: a second close(2) of the number, which another thread may have been
    given in between. The fork threads of :mod:`executors.spawn` open /dev/null and pipes
    all the time; one of theirs closed under Popen made it fail after the fork, and
    that child was left running, unreaped. So on uvloop the file object does not own the
    descriptor; asyncio's transports close only the file object."""
    return os.fdopen(fd, mode, buffering=0, closefd=not isinstance(loop, uvloop.Loop))


def _host_pid_of(pids: frozenset[int], ns_pid: int) -> int:
    """The host pid of the process of ``pids`` that calls itself ``ns_pid`` (its own
    PID namespace's view, the last ``NSpid`` field)."""
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status", "rb") as fh:
                fields = next((ln.split()[1:] for ln in fh if ln.startswith(b"NSpid:")), [])
        except OSError:
            continue
        if fields and int(fields[-1]) == ns_pid:
            return pid
    raise SandboxUnavailable(f"the runner (pid {ns_pid} inside) is not among {sorted(pids)}")


class Worker:
    """One runner process. Not reentrant: one request (specialize or call) at a time."""

    def __init__(
        self,
        *,
        name: str,
        command: RuntimeCommand,
        workdir: Path | None,
        cgroup: WorkerCgroup | None,
        on_exit: Callable[[Worker], None] | None = None,
    ) -> None:
        self.name = name
        self.runtime = command.runtime
        self.workdir = workdir
        self.cgroup = cgroup
        self.spec: CodeSpec | None = None
        self.pid = 0
        self.runner_pid = 0
        self.last_used = time.monotonic()
        self.busy = False
        self.retire = False
        # (runtime, network, storage MB) of the sandbox it was started in.
        self.profile: tuple[Runtime, Network, int] | None = None
        self.returncode: int | None = None
        self._on_exit = on_exit
        self._popen: subprocess.Popen[bytes] | None = None
        self._writer: asyncio.WriteTransport | None = None
        self._readers: list[asyncio.BaseTransport] = []
        self._pidfd = -1
        self._waiter: asyncio.Future[protocol.InboundFrame] | None = None
        self._pending: list[protocol.InboundFrame] = []
        self._sink: LogSink | None = None
        self._killed_for: str | None = None
        self._watchdog_limit = 0
        self._watchdog: asyncio.Task[None] | None = None
        self._oom_by_watchdog = False
        # (host prefix, prefix inside the sandbox) for paths handed to the runner.
        self._path_map: tuple[tuple[str, str], ...] = ()
        self._uid_lease: UidLease | None = None
        # The sandbox's own processes (pasta, bwrap, its init, the runner), seen before
        # any user code ran: anything else alive after a call outlived it.
        self._core_pids: frozenset[int] = frozenset()
        # What the sandbox and the runtime printed before ``ready`` (a start that fails
        # says why there: bubblewrap, pasta, env's "Permission denied"), a few lines.
        self._start_lines: list[str] = []
        self._runner_host_pid = 0  # the runner as the host sees it (its pid never changes)
        # /proc/<runner>/task, and the tasks of the sandbox's other processes (pasta, bwrap,
        # its init): the count beside the runner's own threads, however many it has.
        self._runner_tasks_dir = ""
        self._other_tasks = -1
        # A compiled function's binary the pre-started stub becomes before it specializes.
        self._exec_path: str | None = None
        self._freeze_at: asyncio.TimerHandle | None = None
        self._frozen = False
        self.exited: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @property
    def alive(self) -> bool:
        """True until the process has exited or was told to die."""
        return self.returncode is None and self._killed_for is None

    # --- lifecycle ---------------------------------------------------------

    @classmethod
    async def spawn(
        cls,
        *,
        name: str,
        command: RuntimeCommand,
        base: Path,
        user: WorkerUser,
        cgroups: limits.CgroupRoot | None,
        memory_mb: int,
        sandbox: Sandbox,
        cpu_millis: int | None = None,
        uids: UidPool | None = None,
        network: Network = "egress",
        storage_mb: int = 512,
        on_exit: Callable[[Worker], None] | None = None,
        builds: Path | None = None,
    ) -> Worker:
        """Start a generic worker in its sandbox and wait for its ``ready`` frame.

        Raises WorkerFailed (with the reason) when the sandbox or a limit cannot be
        set up: a worker never starts with less isolation than configured.
        """
        namespaces = sandbox.mode == "namespaces"
        lease = uids.acquire() if namespaces and uids is not None else None
        workdir: Path | None = None
        cgroup: WorkerCgroup | None = None
        try:
            if not namespaces:
                workdir = limits.make_workdir(base, name, user)
            if cgroups is not None:
                cgroup = cgroups.create(name, memory_mb, cpu_millis)
            worker = cls(
                name=name, command=command, workdir=workdir, cgroup=cgroup, on_exit=on_exit
            )
            worker._uid_lease = lease
        except BaseException:
            if workdir is not None:
                limits.remove_workdir(workdir)  # just made, still empty: a syscall or two
            if cgroup is not None:
                cgroup.remove()
            if lease is not None:
                lease.release()
            raise
        try:
            if namespaces:
                ro_binds: tuple[tuple[str, str], ...] = ()
                if builds is not None:
                    ro_binds = ((str(builds), DEPS_IN_SANDBOX),)
                    worker._path_map = ((str(builds), DEPS_IN_SANDBOX),)
                # As root the worker's own uid; else the gateway's (a user namespace maps it).
                uid = lease.uid if lease is not None else os.getuid()
                argv = sandbox.command(
                    [*command.argv],
                    uid=uid,
                    network=network,
                    storage_mb=storage_mb,
                    rlimits=limits.RLIMITS,
                    ro_binds=ro_binds,
                    cgroup_dirs=cgroup.shown() if cgroup is not None else (),
                )
                identity = WorkerUser(name=None, uid=lease.uid, gid=lease.uid) if lease else user
                await worker._start(argv, identity, cwd="/", home=SANDBOX_HOME)
            else:
                assert sandbox.prlimit is not None and workdir is not None
                argv = [*limits.RLIMITS.prlimit_argv(sandbox.prlimit), *command.argv]
                await worker._start(argv, user, cwd=str(workdir), home=str(workdir))
            frame = await worker._request(None, READY_TIMEOUT_S)
            if frame["type"] != "ready":
                raise WorkerFailed(f"worker {name}: expected ready, got {frame['type']}")
            worker.runner_pid = frame["pid"]
            if worker.cgroup is not None:
                # No user code has run yet and nothing forks until it does: now the
                # whole tree (pasta, bwrap, its init, the runner) can be moved without a race.
                worker.cgroup.add_tree(worker.pid)
            worker._core_pids = frozenset(limits.descendants(worker.pid))
            worker._runner_host_pid = _host_pid_of(worker._core_pids, frame["pid"])
            if worker.cgroup is not None:
                worker._count_other_tasks()
            check_limits(worker._runner_host_pid, limits.RLIMITS)
        except SandboxUnavailable as exc:
            worker.kill()
            await worker.wait_closed()
            logger.error("worker %s (%s) refused: %s", name, command.runtime, exc)
            raise WorkerFailed(f"the sandbox could not be set up: {exc}") from exc
        except (_Died, TimeoutError, OSError) as exc:
            worker.kill()
            await worker.wait_closed()
            said = "; ".join(worker._start_lines)
            if said:
                logger.warning("worker %s (%s) did not start: %s", name, command.runtime, said)
            raise WorkerFailed(f"worker {name} ({command.runtime}) did not start: {exc!r}"
                               + (f" ({said})" if said else "")) from exc
        except BaseException:
            worker.kill()
            raise
        return worker

    async def _start(self, argv: list[str], user: WorkerUser, *, cwd: str, home: str) -> None:
        loop = asyncio.get_running_loop()
        to_r, to_w = os.pipe()
        from_r, from_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        argv = [*argv, str(to_r), str(from_w)]
        env = {"PATH": SYSTEM_PATH, "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8"}
        try:
            self._popen = await spawn.spawn(
                argv,
                env=env,
                cwd=cwd,
                uid=user.uid,
                gid=user.gid,
                stdout=out_w,
                stderr=err_w,
                pass_fds=(to_r, from_w),
                close_after=(to_r, from_w, out_w, err_w),
            )
        except BaseException:
            for fd in (to_w, from_r, out_r, err_r):
                os.close(fd)
            raise
        self.pid = self._popen.pid
        try:
            self._watch_exit()
            if self.cgroup is not None:
                try:
                    self.cgroup.add(self.pid)
                except OSError as exc:
                    # Never a silent downgrade: without its cgroup the worker has no pids
                    # limit, CPU quota or freezer. The caller kills it; cleanup removes it.
                    raise SandboxUnavailable(f"the worker's cgroup is unusable: {exc}") from exc
        except BaseException:
            for fd in (to_w, from_r, out_r, err_r):
                os.close(fd)
            raise
        # A descriptor handed to a transport is the transport's to close, even when the
        # connect fails; those not handed over yet (a cancelled start) are closed here.
        unhanded = [to_w, from_r, out_r, err_r]
        try:
            self._writer, _ = await loop.connect_write_pipe(
                asyncio.BaseProtocol, _pipe_file(loop, unhanded.pop(0), "wb")
            )
            for factory in (
                lambda: _FrameReader(self),
                lambda: _LineReader(self, "stdout"),
                lambda: _LineReader(self, "stderr"),
            ):
                pipe = _pipe_file(loop, unhanded.pop(0), "rb")
                transport, _ = await loop.connect_read_pipe(factory, pipe)
                self._readers.append(transport)
        finally:
            for fd in unhanded:
                os.close(fd)

    def _watch_exit(self) -> None:
        """Watch the process with a pidfd: its reader reaps it when it exits. Without one
        nothing ever would (nor would :meth:`wait_closed` return), so then the process is
        killed and reaped now, and the start fails."""
        assert self._popen is not None
        try:
            self._pidfd = os.pidfd_open(self.pid)
            asyncio.get_running_loop().add_reader(self._pidfd, self._on_pidfd)
        except BaseException:
            if self._pidfd >= 0:
                os.close(self._pidfd)
                self._pidfd = -1
            self.kill()
            self.returncode = self._popen.wait()  # SIGKILLed: at once
            self._finish_exit()
            raise

    def kill(self, reason: str = "killed") -> None:
        """SIGKILL the worker's process group (and anything left in its cgroup)."""
        if self._killed_for is None:
            self._killed_for = reason
        if self.cgroup is not None:
            self.cgroup.thaw()  # a frozen process dies only once thawed
        if self.pid and self.returncode is None:
            # bubblewrap starts a session of its own: the group alone is not the tree.
            doomed = limits.descendants(self.pid)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
            for pid in doomed:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        if self.cgroup is not None:
            for pid in self.cgroup.pids_in():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        if self._popen is None and not self.exited.done():
            self._finish_exit()

    async def wait_closed(self) -> None:
        """Wait until the process is reaped and its directory and cgroup are gone."""
        await asyncio.shield(self.exited)

    def _on_pidfd(self) -> None:
        loop = asyncio.get_running_loop()
        loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        self._pidfd = -1
        assert self._popen is not None
        self.returncode = self._popen.wait()
        # Grandchildren that left the process group still die with the worker.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        self._fail_waiter(_Died(self.returncode))
        self._finish_exit()

    def _finish_exit(self) -> None:
        if self._freeze_at is not None:
            self._freeze_at.cancel()
            self._freeze_at = None
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self._writer is not None and not self._writer.is_closing():
            self._writer.abort()
        if self._on_exit is not None:
            self._on_exit(self)
        asyncio.get_running_loop().create_task(self._cleanup(), name=f"fngate-reap-{self.name}")

    async def _cleanup(self) -> None:
        try:
            # Let the readers drain what the worker wrote before it died.
            await asyncio.sleep(0)
            for transport in self._readers:
                transport.close()
            if self.workdir is not None:
                # Whatever the call left there, maybe many files: not on the event loop.
                await asyncio.to_thread(limits.remove_workdir, self.workdir)
            if self.cgroup is not None:
                for _ in range(100):
                    if self.cgroup.remove():
                        break
                    for pid in self.cgroup.pids_in():
                        with contextlib.suppress(ProcessLookupError, PermissionError):
                            os.kill(pid, signal.SIGKILL)
                    await asyncio.sleep(0.02)
                else:
                    logger.warning("worker %s: cgroup not removed", self.name)
                    return  # its uid stays taken: something of it may still run
            if self._uid_lease is not None:
                self._uid_lease.release()
        finally:
            if not self.exited.done():
                self.exited.set_result(None)

    # --- frames ------------------------------------------------------------

    def _on_frame(self, frame: protocol.InboundFrame) -> None:
        if frame["type"] == "log":
            sink = self._sink
            if sink is not None:
                sink.add(frame["stream"], frame["message"], frame["ts"])
            return
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(frame)
        else:
            self._pending.append(frame)

    def _on_stray(self, stream: Literal["stdout", "stderr"], message: str) -> None:
        sink = self._sink
        if sink is not None:
            sink.add(stream, message, time.time())
        else:
            logger.debug("worker %s %s: %s", self.name, stream, message)
            if not self._core_pids and len(self._start_lines) < _START_LINES:
                self._start_lines.append(message[:300])

    def _fail_waiter(self, exc: BaseException) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    async def _request(self, data: bytes | None, timeout_s: float) -> protocol.InboundFrame:
        if self._pending and data is None:
            return self._pending.pop(0)
        if not self.alive:
            raise _Died(self.returncode)
        if self._pending:
            self.kill()
            raise WorkerFailed(f"worker {self.name}: unexpected {self._pending[0]['type']} frame")
        waiter: asyncio.Future[protocol.InboundFrame] = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        try:
            if data is not None:
                assert self._writer is not None
                self._writer.write(data)
            async with asyncio.timeout(max(timeout_s, 0.0)):
                return await waiter
        finally:
            self._waiter = None

    # --- specialize and call ------------------------------------------------

    def exec_first(self, path: str) -> None:
        """Make a pre-started worker of a compiled runtime ``path`` (a function's binary, as
        the sandbox shows it) as it is specialized: one exec in place, the same process,
        sandbox, cgroup and pipes. The exec frame goes with the specialize frame (and the
        call's): the stub reads its own frame only, the binary the rest, no round trip."""
        self._exec_path = path

    async def _send_load(self, load: bytes, timeout_s: float) -> protocol.InboundFrame:
        """Send ``load`` (specialize, maybe a call); the first reply to it. Behind an exec
        frame when one is due: then the binary's ``ready`` comes first (else WorkerFailed)."""
        path, self._exec_path = self._exec_path, None
        if path is None:
            return await self._request(load, timeout_s)
        body = orjson.dumps({"type": "exec", "path": path})
        try:
            ready = await self._request(protocol.HEADER.pack(len(body)) + body + load, timeout_s)
        except _Died as exc:
            raise WorkerFailed(f"worker {self.name}: the binary did not start: {exc!r}") from exc
        if ready["type"] != "ready":
            self.kill()
            raise WorkerFailed(f"worker {self.name}: expected ready, got {ready['type']}")
        return await self._request(None, timeout_s)

    async def specialize(
        self, spec: CodeSpec, *, max_log_bytes: int, max_result_bytes: int, timeout_s: float
    ) -> protocol.SpecializedFrame:
        """Load ``spec``'s code (raises TimeoutError, or _Died if the worker dies)."""
        frame = self._specialize_frame(spec, max_log_bytes, max_result_bytes)
        return self._specialized(await self._send_load(frame, timeout_s))

    def _specialize_frame(self, spec: CodeSpec, max_log_bytes: int,
                          max_result_bytes: int) -> bytes:
        """The frame that loads ``spec``'s code; the worker is ``spec``'s from now on."""
        self.spec = spec
        self._set_memory(spec.memory_mb)
        self._set_cpu(spec.cpu_millis)
        frame: protocol.SpecializeFrame = {
            "type": "specialize",
            "code": spec.code,
            "handler": spec.handler,
            "environment": dict(spec.environment),
            "function_name": spec.function_name,
            "version": spec.version,
            "max_log_bytes": max_log_bytes,
            "max_result_bytes": max_result_bytes,
            "dependencies_path": self._sandbox_path(spec.dependencies_path),
        }
        return protocol.encode(frame)

    def _specialized(self, reply: protocol.InboundFrame) -> protocol.SpecializedFrame:
        if reply["type"] != "specialized":
            self.kill()
            raise WorkerFailed(f"worker {self.name}: expected specialized, got {reply['type']}")
        return reply

    def _sandbox_path(self, path: str | None) -> str | None:
        if path is None:
            return None
        for host, inside in self._path_map:
            if path == host or path.startswith(host + os.sep):
                return inside + path[len(host) :]
        return path

    def _set_cpu(self, cpu_millis: int) -> None:
        if self.cgroup is None or self.cgroup.cpu is None:
            return  # no CPU controller here: reported by the pools at start-up
        if not self.cgroup.set_cpu(cpu_millis):
            self.kill()
            raise WorkerFailed(f"worker {self.name}: the CPU quota could not be set")

    # --- between calls -----------------------------------------------------

    def end_call(self) -> None:
        """After a call: kill whatever it left running (zombies too); retire the worker then."""
        if self._kill_left():
            self.retire = True

    def _kill_left(self) -> bool:
        """Kill every process of the worker's cgroup (or tree) that is not the sandbox's
        own, zombies too; whether there was one. Seen from outside, so user code cannot
        hide from it."""
        if not self.alive or not self._core_pids:
            return False
        if self.cgroup is not None:
            # pids.current counts zombies too (until reaped); cgroup.procs does not. It
            # counts the sandbox's other processes' tasks, which user code cannot end, and
            # the runner's first thread while the runner lives: one more than the former
            # only if the runner has one thread and nothing else is there. (Not a count
            # taken at start: a runner that had several threads then, as Node.js does, can
            # end some with native code and even the count out with processes left.)
            tasks = self.cgroup.task_count()
            if self._other_tasks >= 0 and tasks == self._other_tasks + 1:
                return False  # the fast path: nothing started, nothing left (one small read)
            if self._runner_threads_only():
                return False
        # The tree holds zombies as children; the cgroup holds whatever left the tree.
        now = set(limits.descendants(self.pid))
        if self.cgroup is not None:
            now.update(self.cgroup.pids_in())
        strays = [pid for pid in now if pid not in self._core_pids]
        if strays:
            for pid in strays:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            logger.info("worker %s: killed %d process(es) left by a call", self.name, len(strays))
        return bool(strays)

    def _count_other_tasks(self) -> None:
        """Count the tasks of the sandbox's processes other than the runner (before any user
        code ran). A runner starting threads meanwhile (Node.js) makes its thread ids move
        between the reads: then again; after a few tries, none (then a call whose task
        count moved takes the full look)."""
        assert self.cgroup is not None
        self._runner_tasks_dir = f"/proc/{self._runner_host_pid}/task"
        for _ in range(5):
            threads = os.listdir(self._runner_tasks_dir)
            tasks = self.cgroup.task_count()
            if tasks > 0 and threads == os.listdir(self._runner_tasks_dir):
                self._other_tasks = tasks - len(threads)
                return

    def _runner_threads_only(self) -> bool:
        """Whether the cgroup's tasks are the sandbox's other processes as they started and
        the runner's threads, however many (Go's runtime starts threads as it needs them,
        and a call can end one: a count alone can be evened out by a process left behind).

        Exact: the runner's thread ids are read before and after the cgroup's count, and
        must be the same list. Every one of them then lived while the count was read, so
        the count holds them, the other processes' tasks (which user code cannot end:
        they are outside its PID namespace, or its init) and anything else: a process,
        thread or zombie left by the call (every task of the worker is in its cgroup,
        where it cannot leave) makes it larger. Three small reads, against the full
        look's walk of every process's threads."""
        assert self.cgroup is not None
        if self._other_tasks < 0:
            return False
        try:
            before = os.listdir(self._runner_tasks_dir)
            tasks = self.cgroup.task_count()
            after = os.listdir(self._runner_tasks_dir)
        except OSError:
            return False
        return before == after and tasks == self._other_tasks + len(before)

    def pause(self) -> None:
        """Freeze the worker once it has stayed idle for FREEZE_AFTER_S: nothing of it
        (a thread or timer its call left behind) runs until :meth:`resume`. A worker
        that is called again within that time is never frozen (freezing and thawing
        cost ~140 us a call here)."""
        if self.cgroup is None or self.cgroup.freezer is None or self._freeze_at is not None:
            return
        self._freeze_at = asyncio.get_running_loop().call_later(FREEZE_AFTER_S, self._freeze)

    def _freeze(self) -> None:
        self._freeze_at = None
        if self.alive and not self.busy and self.cgroup is not None:
            self._frozen = self.cgroup.freeze()
            if self._frozen:
                self._check_frozen(_FROZEN_POLLS)

    def _check_frozen(self, polls_left: int) -> None:
        """Once the freeze has taken hold (looked at every _FROZEN_POLL_S, at most
        ``polls_left`` more times): a thread the call left may have started a process
        after the call's check. Frozen with the worker, it would wait there for the next
        call; the worker ends instead (a frozen process dies only once thawed, as kill
        does). A resume before then cancels this (``_freeze_at``)."""
        self._freeze_at = None
        if not self.alive or self.busy or not self._frozen or self.cgroup is None:
            return
        if polls_left > 0 and not self.cgroup.frozen():
            self._freeze_at = asyncio.get_running_loop().call_later(
                _FROZEN_POLL_S, self._check_frozen, polls_left - 1)
            return
        if self._kill_left():
            self.kill("a process was left after the call")

    def resume(self) -> None:
        """Before a call: cancel a pending freeze, or thaw the frozen worker."""
        if self._freeze_at is not None:
            self._freeze_at.cancel()
            self._freeze_at = None
        if self._frozen and self.cgroup is not None:
            self.cgroup.thaw()
            self._frozen = False

    def _set_memory(self, memory_mb: int) -> None:
        if self.cgroup is not None and self.cgroup.set_memory(memory_mb):
            return
        self._watchdog_limit = memory_mb * 1024 * 1024
        if self._watchdog is None:
            self._watchdog = asyncio.get_running_loop().create_task(
                self._watch_rss(), name=f"fngate-rss-{self.name}"
            )

    async def _watch_rss(self) -> None:
        while self.alive:
            # A /proc read per process of the tree, every period, for every such worker:
            # in a thread, so the event loop never waits on it.
            rss = await asyncio.to_thread(limits.rss_of_group, self.pid)
            if self.alive and rss > self._watchdog_limit:
                self._oom_by_watchdog = True
                self.kill("OutOfMemory")
                return
            await asyncio.sleep(_WATCHDOG_PERIOD_S)

    async def run(
        self,
        *,
        spec: CodeSpec | None,
        event: Any,
        ctx: CallContext,
        timeout_s: float,
        sink: LogSink,
        max_log_bytes: int,
        max_result_bytes: int,
        cold_start: bool,
    ) -> ExecutionResult:
        """Specialize (when ``spec`` is given) and call once; never raises for user faults."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        self._sink = sink
        started = time.perf_counter()
        try:
            call: protocol.CallFrame = {
                "type": "call",
                "event": event,
                "context": {
                    "job_id": ctx.job_id,
                    "function_name": ctx.function_name,
                    "version": ctx.version,
                    "trigger": ctx.trigger,
                    "deadline_ms": ctx.deadline_ms,
                    "sub": ctx.sub,
                    "extra": dict(ctx.extra),
                },
            }
            frame = protocol.encode(call)
            started = time.perf_counter()
            if spec is not None:
                # Both frames at once: the worker loads the code and runs the call
                # without waiting for the gateway in between (one round trip, not two).
                load = self._specialize_frame(spec, max_log_bytes, max_result_bytes)
                loaded = self._specialized(
                    await self._send_load(load + frame, deadline - loop.time()))
                # The call began when loading ended, not when this reply was read. The
                # figure comes from the user's process: only a plausible one is taken.
                load_ms = loaded.get("load_ms")
                if isinstance(load_ms, (int, float)) and math.isfinite(load_ms):
                    elapsed = time.perf_counter() - started
                    started += min(max(float(load_ms) / 1000, 0.0), elapsed)
                frame = b""
            reply = await self._request(frame or None, deadline - loop.time())
        except asyncio.CancelledError:
            # The caller gave up; the call may still be running, so never reuse the worker.
            self.kill("cancelled")
            raise
        except TimeoutError:
            self.kill("Timeout")
            return self._result(
                sink,
                started,
                cold_start,
                failure="TIMEOUT",
                error=ErrorInfo(
                    type="Timeout",
                    message=f"function did not finish within {timeout_s * 1000:.0f} ms",
                ),
            )
        except _Died as died:
            return self._result(
                sink, started, cold_start, failure="RUNTIME_ERROR", error=self._death(died)
            )
        except (WorkerFailed, TypeError) as exc:
            # TypeError: the event or context is not serializable; not the worker's fault,
            # but the worker state is unknown, so it is not reused.
            self.kill()
            return self._result(
                sink,
                started,
                cold_start,
                failure="RUNTIME_ERROR",
                error=ErrorInfo(type="WorkerError", message=str(exc)),
            )
        finally:
            self._sink = None
        if reply["type"] != "result":
            self.kill()
            error = ErrorInfo(type="WorkerError", message=f"unexpected {reply['type']} frame")
            return self._result(sink, started, cold_start, failure="RUNTIME_ERROR", error=error)
        self.last_used = time.monotonic()
        if reply.get("retire"):
            self.retire = True  # the pool ends it once the call is over
        if reply.get("logs_truncated"):
            sink.truncated = True
        cpu_ms = reply.get("cpu_ms")
        max_rss = reply.get("max_rss")
        if reply["ok"]:
            return self._result(
                sink,
                started,
                cold_start,
                result=reply.get("result"),
                cpu_ms=cpu_ms,
                max_rss=max_rss,
            )
        err = reply.get("error") or {"type": "Error", "message": "unknown error"}
        error = ErrorInfo(
            type=str(err.get("type") or "Error"),
            message=str(err.get("message") or ""),
            stack_trace=err.get("stack_trace"),
            line=err.get("line"),
            column=err.get("column"),
        )
        return self._result(
            sink,
            started,
            cold_start,
            failure="RUNTIME_ERROR",
            error=error,
            cpu_ms=cpu_ms,
            max_rss=max_rss,
        )

    def _death(self, died: _Died) -> ErrorInfo:
        oom = self._oom_by_watchdog or (self.cgroup is not None and self.cgroup.oom_killed())
        limit = self.spec.memory_mb if self.spec is not None else 0
        if oom:
            return ErrorInfo(
                type="OutOfMemory", message=f"worker exceeded its memory limit of {limit} MB"
            )
        code = died.returncode
        if code is None:
            how = "ended"
        elif code < 0:
            try:
                how = f"was killed by signal {signal.Signals(-code).name}"
            except ValueError:
                how = f"was killed by signal {-code}"
        else:
            how = f"exited with code {code}"
        return ErrorInfo(type="WorkerCrashed", message=f"worker process {how} during the call")

    @staticmethod
    def _result(
        sink: LogSink,
        started: float,
        cold_start: bool,
        *,
        result: Any = None,
        failure: Literal["RUNTIME_ERROR", "TIMEOUT"] | None = None,
        error: ErrorInfo | None = None,
        cpu_ms: float | None = None,
        max_rss: int | None = None,
    ) -> ExecutionResult:
        return ExecutionResult(
            result=result,
            failure=failure,
            error=error,
            logs=tuple(sink.lines),
            logs_truncated=sink.truncated,
            cold_start=cold_start,
            duration_ms=(time.perf_counter() - started) * 1000,
            cpu_ms=cpu_ms,
            max_rss_bytes=max_rss,
        )
