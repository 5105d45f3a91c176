"""Limits on user code: the worker user, rlimits, memory/pids/CPU cgroups and a freezer.

Memory is limited as *resident* memory, never with ``RLIMIT_AS`` (Node.js
reserves far more address space than it uses): a cgroup per worker (v2 when
the unified hierarchy has the memory controller and is writable, else v1),
else :class:`RssWatchdog` polls the worker's RSS and kills it over the limit.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from executors import spawn
from executors.owners import OWNER_LOCK_DIR, forget_dead_owners, owner_alive
from executors.sandbox import RLimits

__all__ = [
    "CgroupRoot",
    "WorkerCgroup",
    "WorkerUser",
    "RLIMITS",
    "descendants",
    "ensure_worker_user",
    "make_workdir",
    "per_user",
    "remove_workdir",
    "rss_of_group",
    "work_base",
]

logger = logging.getLogger("fngate.executors")

_CGROUP_FS = Path("/sys/fs/cgroup")
PIDS_MAX = 64
_CPU_PERIOD_US = 100_000
# Per cgroup version: the freezer's file, and what it is written to freeze and thaw.
_FREEZER_FILE = {1: "freezer.state", 2: "cgroup.freeze"}
_FREEZER_STATE = {1: {True: b"FROZEN", False: b"THAWED"}, 2: {True: b"1", False: b"0"}}
_HOLD = "hold"  # v1 freezer cgroups gateways keep frozen: "<owner>-hold"
NOFILE = 256
FSIZE = 64 * 1024 * 1024
# RLIMIT_NPROC counts every process and thread of the worker's uid: with a uid
# per worker (the namespace sandbox as root) it is a per-worker ceiling; with the
# shared worker user (process mode) a ceiling against runaway forks, the
# per-worker one being the pids cgroup.
NPROC = 4096
RLIMITS = RLimits(nofile=NOFILE, fsize=FSIZE, nproc=NPROC)
_FORBIDDEN_USERS = {"root", "pgserver", "postgres"}


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerUser:
    """The identity workers run as (None fields: run as the gateway's own user)."""

    name: str | None
    uid: int | None
    gid: int | None


def ensure_worker_user(name: str) -> WorkerUser:
    """As root, return (creating it if missing) the unprivileged worker user."""
    if os.geteuid() != 0:
        return WorkerUser(name=None, uid=None, gid=None)
    if name in _FORBIDDEN_USERS:
        raise RuntimeError(f"worker user {name!r} is not allowed: choose a dedicated user")
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        spawn.run(
            [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            env=None,
            timeout=None,
        )
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            raise RuntimeError(f"could not create the worker user {name!r}") from None
    if entry.pw_uid == 0:
        raise RuntimeError(f"worker user {name!r} has uid 0")
    return WorkerUser(name=name, uid=entry.pw_uid, gid=entry.pw_gid)


def per_user(name: str) -> str:
    """``name`` as root, ``name-<uid>`` for anyone else (/tmp is shared by every user)."""
    return name if os.geteuid() == 0 else f"{name}-{os.geteuid()}"


def work_base() -> Path:
    """The base of the workers' private directories (root-owned, 0711)."""
    base = Path(tempfile.gettempdir()) / per_user("fngate-work")
    base.mkdir(mode=0o711, exist_ok=True)
    st = base.stat()
    if st.st_uid != os.geteuid():
        raise RuntimeError(f"{base} belongs to another user")
    os.chmod(base, 0o711)
    return base


def make_workdir(base: Path, name: str, user: WorkerUser) -> Path:
    """Create a worker's private directory (0700, owned by the worker user)."""
    path = base / name
    path.mkdir(mode=0o700)
    if user.uid is not None and user.gid is not None:
        os.chown(path, user.uid, user.gid)
    return path


def remove_workdir(path: Path) -> None:
    """Remove a worker's directory, whatever it left there."""
    shutil.rmtree(path, ignore_errors=True)


def _write(path: Path, value: str) -> None:
    with open(path, "w") as fh:
        fh.write(value)


def _own_cgroup(controller: str) -> str:
    """This process's cgroup path for a v1 controller ('' for v2)."""
    try:
        text = Path("/proc/self/cgroup").read_text()
    except OSError:
        return "/"
    for line in text.splitlines():
        _, controllers, rel = line.split(":", 2)
        if controller in controllers.split(","):
            return rel
    return "/"


class _KeptFile:
    """A cgroup file opened once: each read or write is then one system call. A read
    is at offset 0, where the kernel generates a single-value file afresh. (Not for
    cgroup v1's ``tasks`` or ``cgroup.procs``: an open one keeps answering the pid list
    it built first, for as long as it is read within a second.)"""

    __slots__ = ("_fd", "_flags", "_path")

    def __init__(self, path: Path, flags: int) -> None:
        self._path = path
        self._flags = flags | os.O_CLOEXEC
        self._fd = -1

    def _opened(self) -> int:
        if self._fd < 0:  # opened again after close() while the cgroup is still there
            self._fd = os.open(self._path, self._flags)
        return self._fd

    def read(self, size: int = 65536) -> bytes:
        return os.pread(self._opened(), size, 0)

    def write(self, data: bytes) -> None:
        os.write(self._opened(), data)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class WorkerCgroup:
    """One worker's cgroup(s): memory, pids and CPU limits, a freezer, OOM detection."""

    def __init__(
        self, version: int, memory: Path, pids: Path, cpu: Path | None, freezer: Path | None
    ) -> None:
        self.version = version
        self.memory = memory
        self.pids = pids
        self.cpu = cpu
        self.freezer = freezer
        self._current = _KeptFile(pids / "pids.current", os.O_RDONLY)
        self._freezer = (None if freezer is None else
                         _KeptFile(freezer / _FREEZER_FILE[version], os.O_WRONLY))
        # The limits last written (only the gateway writes them): an equal one is not
        # written again.
        self._memory_mb: int | None = None
        self._cpu_millis: int | None = None

    def _dirs(self) -> set[Path]:
        return {d for d in (self.memory, self.pids, self.cpu, self.freezer) if d is not None}

    def shown(self) -> tuple[tuple[str, str], ...]:
        """(controller, directory) pairs a sandbox shows read-only (v1 layout)."""
        if self.version == 2:
            return (("unified", str(self.memory)),)
        pairs = [("memory", self.memory), ("pids", self.pids)]
        if self.cpu is not None:
            pairs.append(("cpu", self.cpu))
        return tuple((name, str(path)) for name, path in pairs)

    def add(self, pid: int) -> None:
        """Move a process (the freshly spawned worker) into the cgroup."""
        for d in self._dirs():
            _write(d / "cgroup.procs", str(pid))

    def add_tree(self, pid: int) -> None:
        """Move ``pid`` and every descendant (bubblewrap forks before we can move it)."""
        for p in descendants(pid):
            with contextlib.suppress(ProcessLookupError, FileNotFoundError):
                self.add(p)

    def set_memory(self, mb: int) -> bool:
        """Set the resident memory limit; False if the kernel refused."""
        if mb == self._memory_mb:
            return True
        name = "memory.max" if self.version == 2 else "memory.limit_in_bytes"
        self._memory_mb = None  # unknown until the write succeeded
        try:
            _write(self.memory / name, str(mb * 1024 * 1024))
        except OSError:
            return False
        self._memory_mb = mb
        return True

    def set_cpu(self, millis: int) -> bool:
        """Set a CPU quota of ``millis`` thousandths of a core; False if it cannot be set."""
        if self.cpu is None:
            return False
        if millis == self._cpu_millis:
            return True
        quota = max(1000, millis * _CPU_PERIOD_US // 1000)
        self._cpu_millis = None
        try:
            if self.version == 2:
                _write(self.cpu / "cpu.max", f"{quota} {_CPU_PERIOD_US}")
            else:
                _write(self.cpu / "cpu.cfs_period_us", str(_CPU_PERIOD_US))
                _write(self.cpu / "cpu.cfs_quota_us", str(quota))
        except OSError:
            return False
        self._cpu_millis = millis
        return True

    def freeze(self) -> bool:
        """Stop every process of the worker (between calls); False without a freezer."""
        return self._freezer_state(True)

    def thaw(self) -> bool:
        """Let the worker's processes run again (before a call, or to be killed)."""
        return self._freezer_state(False)

    def frozen(self) -> bool:
        """Whether the freeze has taken hold: every process stopped (a v1 freeze goes on
        after its write returns, ``FREEZING``, and a process forked meanwhile still runs)."""
        if self.freezer is None:
            return False
        try:
            if self.version == 1:
                return (self.freezer / "freezer.state").read_bytes().strip() == b"FROZEN"
            return b"frozen 1" in (self.freezer / "cgroup.events").read_bytes()
        except OSError:
            return False

    def _freezer_state(self, frozen: bool) -> bool:
        """One write to a file kept open (Python's open() costs more than the write)."""
        if self._freezer is None:
            return False
        try:
            self._freezer.write(_FREEZER_STATE[self.version][frozen])
            return True
        except OSError:
            return False

    def oom_killed(self) -> bool:
        """True if the kernel's OOM killer killed something in this cgroup."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            text = (self.memory / name).read_text()
        except OSError:
            return False
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip() not in ("", "0"):
                return True
        return False

    def pids_in(self) -> list[int]:
        """Every process left in the cgroup (to kill escapees of the process group)."""
        try:
            text = (self.pids / "cgroup.procs").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def task_count(self) -> int:
        """Tasks (processes and threads) in the cgroup: one pread (-1 if unreadable)."""
        try:
            return int(self._current.read(32))
        except (OSError, ValueError):
            return -1

    def remove(self) -> bool:
        """Remove the cgroup directories; False while processes remain."""
        for kept in (self._current, self._freezer):
            if kept is not None:
                kept.close()
        ok = True
        for d in self._dirs():
            try:
                d.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                ok = False
        return ok


class CgroupRoot:
    """Where this gateway's worker cgroups live; :meth:`detect` finds a usable one."""

    def __init__(
        self,
        version: int,
        memory: Path,
        pids: Path,
        cpu: Path | None = None,
        freezer: Path | None = None,
    ) -> None:
        self.version = version
        self.memory = memory
        self.pids = pids
        self.cpu = cpu
        self.freezer = freezer
        self._hold: Path | None = None  # hold_freezer's

    @classmethod
    def detect(cls, name: str = "fngate") -> CgroupRoot | None:
        """v2 if the unified hierarchy is writable with memory+pids, else v1, else None."""
        if os.geteuid() != 0:
            return None
        try:
            return cls._detect_v2(name) or cls._detect_v1(name)
        except OSError as exc:
            logger.warning("cgroups unusable (%s); using the RSS watchdog", exc)
            return None

    @classmethod
    def _detect_v2(cls, name: str) -> CgroupRoot | None:
        controllers = _CGROUP_FS / "cgroup.controllers"
        if not controllers.is_file():
            return None
        available = controllers.read_text().split()
        if "memory" not in available or "pids" not in available:
            return None
        wanted = "+memory +pids" + (" +cpu" if "cpu" in available else "")
        root = _CGROUP_FS / name
        root.mkdir(exist_ok=True)
        _write(_CGROUP_FS / "cgroup.subtree_control", wanted)
        _write(root / "cgroup.subtree_control", wanted)
        return cls(2, root, root, root if "cpu" in available else None, root)

    @classmethod
    def _detect_v1(cls, name: str) -> CgroupRoot | None:
        mem_fs = _CGROUP_FS / "memory"
        pids_fs = _CGROUP_FS / "pids"
        if not (mem_fs / "cgroup.procs").is_file() or not (pids_fs / "cgroup.procs").is_file():
            return None
        # Nest under this process's own cgroup, so whatever supervises the
        # gateway (systemd, a container runtime) still accounts for its workers.
        mem = mem_fs / _own_cgroup("memory").lstrip("/") / name
        pids = pids_fs / _own_cgroup("pids").lstrip("/") / name
        mem.mkdir(exist_ok=True)
        pids.mkdir(exist_ok=True)
        with contextlib.suppress(OSError):
            _write(mem / "memory.use_hierarchy", "1")
        cpu = cls._v1_controller("cpu", name)
        freezer = cls._v1_controller("freezer", name)
        return cls(1, mem, pids, cpu, freezer)

    @staticmethod
    def _v1_controller(controller: str, name: str) -> Path | None:
        fs = _CGROUP_FS / controller
        if not (fs / "cgroup.procs").is_file():
            return None
        path = fs / _own_cgroup(controller).lstrip("/") / name
        try:
            path.mkdir(exist_ok=True)
        except OSError as exc:
            logger.warning("cgroup controller %s unusable: %s", controller, exc)
            return None
        return path

    def create(self, worker: str, memory_mb: int, cpu_millis: int | None = None) -> WorkerCgroup:
        """Make one worker's cgroup with a memory and a pids limit (and a CPU quota)."""
        dirs = {
            key: (base / worker if base is not None else None)
            for key, base in (("memory", self.memory), ("pids", self.pids),
                              ("cpu", self.cpu), ("freezer", self.freezer))
        }
        made: list[Path] = []
        try:
            for path in dirs.values():
                if path is not None and path not in made:
                    path.mkdir()
                    made.append(path)
        except OSError:
            for path in made:
                with contextlib.suppress(OSError):
                    path.rmdir()
            raise
        mem, pids = dirs["memory"], dirs["pids"]
        assert mem is not None and pids is not None
        cg = WorkerCgroup(self.version, mem, pids, dirs["cpu"], dirs["freezer"])
        try:
            cg.set_memory(memory_mb)
            if cpu_millis is not None:
                cg.set_cpu(cpu_millis)  # not set: specializing sets it, or fails
            if self.version == 1:
                with contextlib.suppress(OSError):
                    _write(mem / "memory.swappiness", "0")
            _write(pids / "pids.max", str(PIDS_MAX))
        except OSError:
            cg.remove()
            raise
        return cg

    def hold_freezer(self, owner: str) -> None:
        """cgroup v1: keep an empty cgroup of this gateway (``owner``, as its workers'
        names begin) frozen while it runs (blocking).

        The v1 freezer turns a kernel static key on when a first cgroup freezes and off
        when the last one thaws: code patched on every CPU, 100–400 µs measured here, which
        every freeze and thaw of a worker paid while no other worker was frozen (a single
        idle worker, or all called again). With this one frozen they take a few µs. The
        key being on costs the rest of the machine next to nothing: it is on whenever any
        worker sleeps frozen anyway."""
        if self.version != 1 or self.freezer is None:
            return
        self._hold = self.freezer / f"{owner}-{_HOLD}"
        try:
            self._hold.mkdir(exist_ok=True)
            _write(self._hold / "freezer.state", "FROZEN")
        except OSError as exc:  # only slower freezes and thaws
            logger.warning("could not keep a frozen freezer cgroup (%s)", exc)

    def release_freezer(self) -> None:
        """Thaw and remove what :meth:`hold_freezer` made (blocking)."""
        if self.version == 1 and self._hold is not None:
            _remove_hold(self._hold)

    def sweep_dead(self, lock_dir: Path = OWNER_LOCK_DIR) -> int:
        """Kill and remove the worker cgroups of gateways that died without cleaning up
        (blocking). A worker's cgroup is named after its gateway (``<pid>-<random>-…``,
        :mod:`executors.owners`); one whose gateway is gone may hold frozen processes that
        would never die on their own, and whose uids the next gateway would hand out
        again. Returns how many were removed."""
        removed = 0
        for entry in list(self.pids.iterdir()) if self.pids.is_dir() else []:
            if not entry.is_dir() or owner_alive(entry.name, lock_dir) is not False:
                continue
            cg = WorkerCgroup(self.version, self.memory / entry.name, entry,
                              self.cpu / entry.name if self.cpu else None,
                              self.freezer / entry.name if self.freezer else None)
            cg.thaw()
            for _ in range(50):
                for pid in cg.pids_in():
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)
                if cg.remove():
                    removed += 1
                    break
                time.sleep(0.02)
            else:
                logger.warning("could not remove the stale worker cgroup %s", entry)
        if self.version == 1 and self.freezer is not None and self.freezer.is_dir():
            for entry in list(self.freezer.iterdir()):
                # "<owner>-hold", or "<pid>-hold-<random>" from before the owner locks.
                if (_HOLD in entry.name.split("-")[1:]
                        and owner_alive(entry.name, lock_dir) is False):
                    _remove_hold(entry)
        forget_dead_owners(lock_dir)
        return removed


def _remove_hold(path: Path) -> None:
    with contextlib.suppress(OSError):
        _write(path / "freezer.state", "THAWED")
    with contextlib.suppress(OSError):
        path.rmdir()


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            text = Path(f"/proc/{pid}/task/{tid}/children").read_text()
        except OSError:
            continue
        out.extend(int(c) for c in text.split())
    return out


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (at most 256)."""
    todo = [pid]
    seen: list[int] = []
    while todo and len(seen) < 256:
        p = todo.pop()
        if p in seen:
            continue
        seen.append(p)
        todo.extend(_children(p))
    return seen


def rss_of_group(pid: int) -> int:
    """Resident bytes of a worker and its descendants (for the RSS watchdog)."""
    return sum(_rss(p) for p in descendants(pid))
