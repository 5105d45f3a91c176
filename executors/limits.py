"""Limits on user code: the worker user, rlimits, memory/pids cgroups, bubblewrap.

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
import resource
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BUILDS_IN_SANDBOX",
    "CgroupRoot",
    "WorkerCgroup",
    "WorkerUser",
    "apply_rlimits",
    "bwrap_prefix",
    "descendants",
    "ensure_worker_user",
    "make_workdir",
    "remove_workdir",
    "rss_of_group",
    "work_base",
]

logger = logging.getLogger("fngate.executors")

_CGROUP_FS = Path("/sys/fs/cgroup")
PIDS_MAX = 64
NOFILE = 256
FSIZE = 64 * 1024 * 1024
# RLIMIT_NPROC counts every process and thread of the worker *user*, shared by
# all workers; it is a ceiling against runaway forks, the per-worker one is
# the pids cgroup.
NPROC = 4096
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
        subprocess.run(
            [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            check=False,
            capture_output=True,
        )
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            raise RuntimeError(f"could not create the worker user {name!r}") from None
    if entry.pw_uid == 0:
        raise RuntimeError(f"worker user {name!r} has uid 0")
    return WorkerUser(name=name, uid=entry.pw_uid, gid=entry.pw_gid)


# Where bubblewrap shows the dependency builds: beside the worker's own directory,
# so the sandbox's /tmp still shows nothing but the path to that directory.
BUILDS_IN_SANDBOX = ".fngate-builds"


def work_base() -> Path:
    """The base of the workers' private directories (root-owned, 0711)."""
    base = Path(tempfile.gettempdir()) / "fngate-work"
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


def apply_rlimits(pid: int, *, as_root_uid: bool) -> None:
    """Set the worker's rlimits from the outside (prlimit), before it runs user code."""
    limits = [
        (resource.RLIMIT_NOFILE, NOFILE),
        (resource.RLIMIT_FSIZE, FSIZE),
        (resource.RLIMIT_CORE, 0),
    ]
    if not as_root_uid:
        limits.append((resource.RLIMIT_NPROC, NPROC))
    for which, value in limits:
        with contextlib.suppress(OSError, ValueError):
            resource.prlimit(pid, which, (value, value))


def bwrap_prefix(
    bwrap: str, workdir: Path, ro_binds: tuple[tuple[Path, Path], ...] = ()
) -> list[str]:
    """The bubblewrap command that wraps a worker: read-only system, private /tmp, no network.

    ``ro_binds``: (host path, path inside the sandbox) pairs mounted read-only, e.g.
    the published dependency builds; entries added there later are visible.
    """
    extra: list[str] = []
    for host, inside in ro_binds:
        extra += ["--ro-bind", str(host), str(inside)]
    return [
        bwrap,
        "--ro-bind", "/", "/",
        "--dev", "/dev",
        "--proc", "/proc",
        "--tmpfs", "/tmp",
        "--bind", str(workdir), str(workdir),
        *extra,
        "--chdir", str(workdir),
        "--unshare-net",
        "--unshare-pid",
        "--unshare-ipc",
        "--die-with-parent",
        "--",
    ]  # fmt: skip


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


class WorkerCgroup:
    """One worker's cgroup(s): memory limit, pids limit, OOM detection."""

    def __init__(self, version: int, memory: Path, pids: Path) -> None:
        self.version = version
        self.memory = memory
        self.pids = pids

    def add(self, pid: int) -> None:
        """Move a process (the freshly spawned worker) into the cgroup."""
        for d in {self.memory, self.pids}:
            _write(d / "cgroup.procs", str(pid))

    def add_tree(self, pid: int) -> None:
        """Move ``pid`` and every descendant (bubblewrap forks before we can move it)."""
        for p in descendants(pid):
            with contextlib.suppress(ProcessLookupError, FileNotFoundError):
                self.add(p)

    def set_memory(self, mb: int) -> bool:
        """Set the resident memory limit; False if the kernel refused."""
        name = "memory.max" if self.version == 2 else "memory.limit_in_bytes"
        try:
            _write(self.memory / name, str(mb * 1024 * 1024))
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

    def remove(self) -> bool:
        """Remove the cgroup directories; False while processes remain."""
        ok = True
        for d in {self.memory, self.pids}:
            try:
                d.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                ok = False
        return ok


class CgroupRoot:
    """Where this gateway's worker cgroups live; :meth:`detect` finds a usable one."""

    def __init__(self, version: int, memory: Path, pids: Path) -> None:
        self.version = version
        self.memory = memory
        self.pids = pids

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
        root = _CGROUP_FS / name
        root.mkdir(exist_ok=True)
        _write(_CGROUP_FS / "cgroup.subtree_control", "+memory +pids")
        _write(root / "cgroup.subtree_control", "+memory +pids")
        return cls(2, root, root)

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
        return cls(1, mem, pids)

    def create(self, worker: str, memory_mb: int) -> WorkerCgroup:
        """Make one worker's cgroup with a memory and a pids limit."""
        mem = self.memory / worker
        pids = self.pids / worker
        mem.mkdir()
        if pids != mem:
            pids.mkdir()
        cg = WorkerCgroup(self.version, mem, pids)
        try:
            cg.set_memory(memory_mb)
            if self.version == 1:
                with contextlib.suppress(OSError):
                    _write(mem / "memory.swappiness", "0")
            _write(pids / "pids.max", str(PIDS_MAX))
        except OSError:
            cg.remove()
            raise
        return cg

    def close(self) -> None:
        """Remove the root if no other gateway on this host uses it."""
        for d in {self.memory, self.pids}:
            with contextlib.suppress(OSError):
                d.rmdir()


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
