"""The namespace sandbox every worker and every build runs in (bubblewrap, pasta).

A sandboxed process is started as::

    [pasta …  --]  bwrap --unshare-all …  --  prlimit …  --  <runner or build tool>

- **bubblewrap** gives it its own user, PID, mount, IPC, UTS and cgroup
  namespaces (and network namespace), no capabilities, ``no_new_privs``, no
  nested user namespaces, and a filesystem of read-only system directories
  (``/usr`` and what ``/etc`` a runtime needs), its own ``/proc``, a private
  ``/dev``, and size-capped tmpfs mounts for ``/tmp`` (its working directory)
  and ``/dev/shm``. Nothing of the data directory, other functions, ``/var``,
  ``/home``, ``/root`` or the gateway's installation is mounted.
- **pasta** (Debian's ``passt``), only for ``network: "egress"``, is the
  namespace's uplink: user-space TCP/UDP forwarding through sockets it opens
  on the host as the worker's uid, where :mod:`executors.egress` filters them.
  ``network: "none"`` has no pasta: the namespace has a loopback and nothing else.
- **prlimit** (util-linux), the last step inside the sandbox, lowers the rlimits
  of the runner itself before it execs, which needs no capability.

As root each worker also gets a uid of its own from ``FNGATE_WORKER_UID_RANGE``,
held with a host-wide lock file while it lives, so no two live workers (of this
or another gateway on the host) share one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from executors.models import Network

__all__ = [
    "DEPS_IN_SANDBOX",
    "SANDBOX_HOME",
    "RLimits",
    "Sandbox",
    "SandboxUnavailable",
    "UidLease",
    "UidPool",
]

SANDBOX_HOME = "/tmp"  # the working directory, HOME and TMPDIR inside the sandbox
DEPS_IN_SANDBOX = "/opt/fngate/deps"  # where published dependency builds are shown
_CGROUP_IN_SANDBOX = "/sys/fs/cgroup"

# What of /etc a runtime needs (missing ones are skipped): name resolution, TLS roots,
# the dynamic loader's cache, time zones.
_ETC = (
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/host.conf",
    "/etc/gai.conf",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/ca-certificates.conf",
    "/etc/pki",
    "/etc/mime.types",
)
# Builds also read the package tools' system configuration (an index mirror, a CA).
_ETC_BUILD = ("/etc/pip.conf", "/etc/xdg/pip", "/etc/npmrc", "/etc/alternatives")
_MERGED_USR = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


class SandboxUnavailable(RuntimeError):
    """The sandbox (or one of its limits) cannot be set up here; the worker does not start."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RLimits:
    """Limits the runner sets on itself before it execs (``prlimit``)."""

    nofile: int
    fsize: int
    nproc: int

    def prlimit_argv(self, prlimit: str) -> list[str]:
        """``prlimit --nofile=N:N … --`` (the command follows)."""
        n, f, p = self.nofile, self.fsize, self.nproc
        return [prlimit, f"--nofile={n}:{n}", f"--fsize={f}:{f}", "--core=0:0",
                f"--nproc={p}:{p}", "--"]

    def expected(self) -> dict[str, int]:
        """The soft/hard values ``/proc/<pid>/limits`` must show, by its row names."""
        return {
            "Max open files": self.nofile,
            "Max file size": self.fsize,
            "Max core file size": 0,
            "Max processes": self.nproc,
        }


class UidLease:
    """One uid held (by an flock on its lock file) until :meth:`release`."""

    __slots__ = ("uid", "_fd")

    def __init__(self, uid: int, fd: int) -> None:
        self.uid = uid
        self._fd = fd

    def release(self) -> None:
        """Give the uid back (idempotent)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class UidPool:
    """Hands out uids from ``[low, high]``, never one that a live worker holds.

    The lock files live in a root-only directory; an flock dies with its holder,
    so a crashed gateway's uids come free by themselves.
    """

    def __init__(self, low: int, high: int, lock_dir: Path) -> None:
        self.low = low
        self.high = high
        self._dir = lock_dir
        self._next = low
        lock_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(lock_dir, 0o700)

    def acquire(self) -> UidLease:
        """The next free uid (raises SandboxUnavailable when the range is exhausted)."""
        size = self.high - self.low + 1
        for _ in range(size):
            uid = self._next
            self._next = self.low if uid >= self.high else uid + 1
            fd = os.open(self._dir / str(uid), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            return UidLease(uid, fd)
        raise SandboxUnavailable(f"every uid of {self.low}-{self.high} is in use")


def _host_view(paths: tuple[str, ...]) -> list[str]:
    args: list[str] = []
    for path in paths:
        if os.path.lexists(path):
            args += ["--ro-bind", path, path]
    return args


def _usr_view() -> list[str]:
    """``/usr`` read-only, and the merged-/usr links (or binds) beside it."""
    args = ["--ro-bind", "/usr", "/usr"]
    for path in _MERGED_USR:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    return args


@dataclass(frozen=True, slots=True, kw_only=True)
class Sandbox:
    """How this replica wraps user code: ``namespaces`` (bubblewrap) or ``process``."""

    mode: Literal["namespaces", "process"]
    bwrap: str | None = None
    pasta: str | None = None
    prlimit: str | None = None
    setpriv: str | None = None
    # Why ``network: "egress"`` cannot be served here (None: it can).
    egress_unavailable: str | None = None

    @classmethod
    def detect(cls, mode: str) -> Sandbox:
        """Find the tools for ``mode``; raise SandboxUnavailable when namespaces cannot work."""
        if mode == "process":
            # No namespaces, but the same rlimits: prlimit is still needed.
            if shutil.which("prlimit") is None:
                raise SandboxUnavailable(
                    "workers need prlimit to set their limits (Debian: apt-get install"
                    " util-linux)"
                )
            return cls(mode="process", prlimit=shutil.which("prlimit"))
        missing = [t for t in ("bwrap", "prlimit", "setpriv") if shutil.which(t) is None]
        if missing:
            raise SandboxUnavailable(
                f"the namespace sandbox needs {' and '.join(missing)} (Debian: apt-get install "
                "bubblewrap util-linux); set FNGATE_SANDBOX=process to run functions without"
                " it, knowingly"
            )
        return cls(
            mode="namespaces",
            bwrap=shutil.which("bwrap"),
            pasta=shutil.which("pasta"),
            prlimit=shutil.which("prlimit"),
            setpriv=shutil.which("setpriv"),
            egress_unavailable=None if shutil.which("pasta") else
            "network egress needs pasta (Debian: apt-get install passt)",
        )

    @property
    def isolation(self) -> Literal["namespaces", "process"]:
        """What ``/health`` and the capabilities report."""
        return self.mode

    def with_egress_unavailable(self, reason: str | None) -> Sandbox:
        """A copy that refuses (``reason``) or serves egress."""
        return dataclasses.replace(self, egress_unavailable=reason)

    def command(
        self,
        inner: list[str],
        *,
        uid: int,
        network: Network,
        storage_mb: int,
        rlimits: RLimits,
        ro_binds: tuple[tuple[str, str], ...] = (),
        rw_binds: tuple[tuple[str, str], ...] = (),
        cgroup_dirs: tuple[tuple[str, str], ...] = (),
        build: bool = False,
        chdir: str = SANDBOX_HOME,
    ) -> list[str]:
        """The full argv that runs ``inner`` sandboxed.

        ``ro_binds``/``rw_binds``: (host path, path inside) pairs; ``cgroup_dirs``:
        (controller, host directory) of the worker's own cgroups, shown read-only at
        ``/sys/fs/cgroup/<controller>`` so a function can read its limits.
        """
        assert self.bwrap is not None and self.prlimit is not None
        if network == "egress" and self.egress_unavailable is not None:
            raise SandboxUnavailable(self.egress_unavailable)
        size = str(storage_mb * 1024 * 1024)
        argv: list[str] = []
        if network == "egress":
            assert self.pasta is not None and self.setpriv is not None
            argv += [
                # pasta has no parent-death signal of its own: without one it (and the
                # sandbox under it) would outlive a gateway that is killed.
                self.setpriv, "--pdeathsig", "KILL", "--",
                self.pasta, "--config-net", "--no-map-gw", "--quiet",
                # No port forwarding in either direction: nothing of the host's
                # loopback is reachable from the namespace, nothing of it from outside.
                "--tcp-ports", "none", "--udp-ports", "none",
                "-T", "none", "-U", "none",
                "--",
            ]  # fmt: skip
        argv += [
            self.bwrap,
            "--unshare-all", "--unshare-user", "--disable-userns",
            *(["--share-net"] if network == "egress" else []),
            "--die-with-parent", "--new-session",
            "--uid", str(uid), "--gid", str(uid), "--hostname", "fngate",
            *_usr_view(),
            *_host_view(_ETC + (_ETC_BUILD if build else ())),
            "--proc", "/proc",
            "--dev", "/dev",
            "--perms", "0700", "--size", size, "--tmpfs", "/tmp",
            "--perms", "1777", "--size", size, "--tmpfs", "/dev/shm",
        ]  # fmt: skip
        for host, inside in ro_binds:
            argv += ["--ro-bind", host, inside]
        for host, inside in rw_binds:
            argv += ["--bind", host, inside]
        for controller, host in cgroup_dirs:
            argv += ["--ro-bind", host, f"{_CGROUP_IN_SANDBOX}/{controller}"]
        # Last: the sandbox's own root and /dev (tmpfs mounts of bwrap's, without a size)
        # become read-only, so only the capped /tmp and /dev/shm (and binds) take writes.
        argv += ["--remount-ro", "/dev", "--remount-ro", "/"]
        argv += ["--chdir", chdir, "--", *rlimits.prlimit_argv(self.prlimit), *inner]
        return argv


def read_limits(pid: int) -> dict[str, tuple[str, str]]:
    """``/proc/<pid>/limits`` as {row name: (soft, hard)} (empty if unreadable)."""
    out: dict[str, tuple[str, str]] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/limits").read_text().splitlines()[1:]:
            name = line[:26].strip()
            parts = line[26:].split()
            if len(parts) >= 2:
                out[name] = (parts[0], parts[1])
    return out


def check_limits(pid: int, rlimits: RLimits) -> None:
    """Raise SandboxUnavailable unless the runner ``pid`` shows exactly ``rlimits``."""
    shown = read_limits(pid)
    for name, value in rlimits.expected().items():
        if shown.get(name) != (str(value), str(value)):
            raise SandboxUnavailable(
                f"rlimit {name!r} of the worker is {shown.get(name)}, not {value}"
            )
