"""Which gateway a worker cgroup belongs to, and whether that gateway still runs.

Worker cgroups are named ``<owner>-…``, the owner being ``<gateway pid>-<random>``. A
gateway holds an ``flock`` on ``OWNER_LOCK_DIR/<owner>`` while it runs (:class:`OwnerLock`);
the kernel drops it when the gateway dies, however it dies. The lock answers for a gateway
in another PID namespace over the same cgroup tree (whose pid means nothing here, or
another process) and after its pid was reused; a cgroup whose owner left no lock (a
gateway from before these locks) falls back to whether its pid is alive here.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

__all__ = ["OWNER_LOCK_DIR", "OwnerLock", "forget_dead_owners", "owner_alive"]

#: Shared by every gateway of the host (as the uid leases' /run/fngate/uids), root only.
OWNER_LOCK_DIR = Path("/run/fngate/gateways")


class OwnerLock:
    """This gateway's lock, held until :meth:`release` or its death (blocking calls)."""

    def __init__(self, lock_dir: Path, owner: str) -> None:
        lock_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.path = lock_dir / owner
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                # Blocking: another gateway's look (_held) takes it for an instant.
                fcntl.flock(fd, fcntl.LOCK_EX)
                if os.fstat(fd).st_ino == os.stat(self.path).st_ino:
                    break
            except FileNotFoundError:
                pass
            except BaseException:
                os.close(fd)
                raise
            # Taken for a dead gateway's between the open and the lock, and removed: again.
            os.close(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd < 0:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = -1


def _held(path: Path) -> bool | None:
    """Whether a gateway holds the lock at ``path`` (None: there is no such lock)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # lets go of the lock when it was taken here
    return False


def owner_alive(name: str, lock_dir: Path) -> bool | None:
    """Whether the gateway that named a cgroup ``name`` still runs (None: ``name`` is no
    gateway's)."""
    pid, _, rest = name.partition("-")
    if not pid.isdigit() or not rest:
        return None
    held = _held(lock_dir / f"{pid}-{rest.split('-', 1)[0]}")
    return held if held is not None else Path(f"/proc/{pid}").exists()


def forget_dead_owners(lock_dir: Path) -> None:
    """Remove the locks no gateway holds any more (after their cgroups were swept)."""
    if not lock_dir.is_dir():
        return
    for path in lock_dir.iterdir():
        if _held(path) is False:
            with contextlib.suppress(OSError):
                path.unlink()
