"""Preparing the sandbox once per replica: tools, uids, the egress filter.

:func:`prepare_sandbox` checks that a namespace sandbox really starts on this
machine (a probe runs ``true`` in one), and as root takes the worker uid range
and installs the egress filter. Whatever cannot be had is said, never skipped:
no sandbox → :class:`SandboxUnavailable` (no worker starts); no egress filter →
``network: "egress"`` functions fail with the reason, ``"none"`` ones still run.
"""

from __future__ import annotations

import logging
import os
import stat
import subprocess
from pathlib import Path

import config
from executors import egress, spawn
from executors.sandbox import RLimits, Sandbox, SandboxUnavailable, UidPool

__all__ = ["UID_LOCK_DIR", "prepare_sandbox"]

logger = logging.getLogger("fngate.executors")

UID_LOCK_DIR = Path("/run/fngate/uids")
_TUN = Path("/dev/net/tun")


def _probe(sandbox: Sandbox, uid: int, *, as_uid: bool) -> None:
    argv = sandbox.command(
        ["/usr/bin/true"], uid=uid, network="none", storage_mb=1,
        rlimits=RLimits(nofile=64, fsize=1024, nproc=4096),
    )  # fmt: skip
    try:
        proc = spawn.run(
            argv,
            env={"PATH": "/usr/bin:/bin"},
            cwd="/",
            timeout=20,
            uid=uid if as_uid else None,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise SandboxUnavailable(f"bubblewrap could not run: {exc}") from exc
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()[:300]
        raise SandboxUnavailable(
            f"bubblewrap cannot create namespaces here ({err}); user namespaces may be off"
            " (sysctl kernel.unprivileged_userns_clone / user.max_user_namespaces)"
        )


def _tun_for_workers() -> str | None:
    """pasta opens /dev/net/tun as the worker's uid; None when it can, else why not."""
    try:
        mode = _TUN.stat().st_mode
    except OSError:
        return "network egress needs /dev/net/tun (the kernel's TUN driver)"
    if mode & 0o006 != 0o006:
        # The udev default is 0666 (opening it grants nothing by itself); some images ship
        # 0600, which would leave every worker uid without a network device.
        os.chmod(_TUN, stat.S_IMODE(mode) | 0o666)
        logger.warning("made %s usable by the worker uids (mode 0666, the udev default)", _TUN)
    return None


def prepare_sandbox(settings: config.Settings) -> tuple[Sandbox, UidPool | None]:
    """The sandbox this replica runs workers in (blocking; call in a thread)."""
    sandbox = Sandbox.detect(settings.sandbox)
    if sandbox.mode == "process":
        logger.warning(
            "FNGATE_SANDBOX=process: functions run without namespaces (isolation: process)"
        )
        return sandbox, None
    low, high = settings.worker_uids
    if os.geteuid() != 0:
        _probe(sandbox, os.getuid(), as_uid=False)
        return sandbox.with_egress_unavailable(
            sandbox.egress_unavailable
            or "network egress needs the gateway to run as root (the egress filter is an"
            " nftables table); functions with network \"none\" run"
        ), None
    uids = UidPool(low, high, UID_LOCK_DIR)
    lease = uids.acquire()
    try:
        _probe(sandbox, lease.uid, as_uid=True)
    finally:
        lease.release()
    if sandbox.egress_unavailable is not None:
        return sandbox, uids
    reason = _tun_for_workers()
    if reason is None:
        try:
            allow = egress.parse_allow(settings.function_egress_allow)
            egress.install(egress.ruleset(low, high, allow, egress.host_resolvers()))
        except (egress.EgressFilterError, ValueError, OSError,
                subprocess.SubprocessError) as exc:
            reason = f"the egress filter could not be installed: {exc}"
    if reason is not None:
        logger.error("functions with network egress cannot run: %s", reason)
    return sandbox.with_egress_unavailable(reason), uids
