"""The sandbox's pieces without starting one: the command line, uids, limits, the filter."""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

import config
from executors import egress
from executors.sandbox import (
    RLimits,
    Sandbox,
    SandboxUnavailable,
    UidPool,
    check_limits,
    read_limits,
)

LIMITS = RLimits(nofile=256, fsize=64 * 1024 * 1024, nproc=4096)
SANDBOX = Sandbox(mode="namespaces", bwrap="/usr/bin/bwrap", pasta="/usr/bin/pasta",
                  prlimit="/usr/bin/prlimit", setpriv="/usr/bin/setpriv")


def _command(network: str, **kw: object) -> list[str]:
    return SANDBOX.command(["/usr/bin/python3", "-c", "0"], uid=200123, network=network,  # type: ignore[arg-type]
                           storage_mb=64, rlimits=LIMITS, **kw)  # type: ignore[arg-type]


def _after(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == flag]


def test_egress_runs_under_pasta_that_forwards_no_port_and_maps_no_gateway() -> None:
    argv = _command("egress")
    # pasta dies with the gateway (it has no parent-death signal of its own).
    assert argv[:4] == ["/usr/bin/setpriv", "--pdeathsig", "KILL", "--"]
    argv = argv[4:]
    assert argv[0] == "/usr/bin/pasta"
    pasta = argv[: argv.index("--")]
    for flag in ("--tcp-ports", "--udp-ports", "-T", "-U"):
        assert _after(pasta, flag) == ["none"], flag
    assert "--no-map-gw" in pasta
    bwrap = argv[argv.index("--") + 1:]
    assert bwrap[0] == "/usr/bin/bwrap" and "--share-net" in bwrap


def test_no_network_has_no_pasta_and_its_own_network_namespace() -> None:
    argv = _command("none")
    assert argv[0] == "/usr/bin/bwrap"
    assert "--share-net" not in argv and "/usr/bin/pasta" not in argv
    assert "--unshare-all" in argv


def test_every_namespace_and_no_nested_user_namespaces() -> None:
    argv = _command("none")
    for flag in ("--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
                 "--new-session"):
        assert flag in argv
    assert _after(argv, "--uid") == ["200123"] and _after(argv, "--gid") == ["200123"]


def test_only_read_only_system_paths_and_capped_private_tmp_and_shm() -> None:
    argv = _command("none")
    binds = _after(argv, "--ro-bind")
    assert "/usr" in binds
    assert not {"/", "/var", "/home", "/root", "/run"} & set(binds)
    assert "--bind" not in argv  # nothing writable of the host
    size = str(64 * 1024 * 1024)
    for mount in ("/tmp", "/dev/shm"):
        i = argv.index(mount)
        assert argv[i - 1] == "--tmpfs" and argv[i - 2] == size and argv[i - 3] == "--size"


def test_the_runner_is_started_by_prlimit_with_every_limit() -> None:
    argv = _command("none")
    inner = argv[argv.index("--", argv.index("--chdir")) + 1:]
    assert inner[0] == "/usr/bin/prlimit"
    assert inner[1:6] == ["--nofile=256:256", f"--fsize={64 * 1024 * 1024}:{64 * 1024 * 1024}",
                          "--core=0:0", "--nproc=4096:4096", "--"]
    assert inner[6:] == ["/usr/bin/python3", "-c", "0"]


def test_egress_that_cannot_be_filtered_is_refused_not_run_unfiltered() -> None:
    refusing = SANDBOX.with_egress_unavailable("no filter here")
    with pytest.raises(SandboxUnavailable, match="no filter here"):
        refusing.command(["true"], uid=1, network="egress", storage_mb=16, rlimits=LIMITS)
    assert refusing.command(["true"], uid=1, network="none", storage_mb=16, rlimits=LIMITS)


def test_missing_bubblewrap_names_the_package_and_the_explicit_way_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import executors.sandbox

    monkeypatch.setattr(executors.sandbox.shutil, "which",
                        lambda name, *a, **k: "/usr/bin/prlimit" if name == "prlimit" else None)
    with pytest.raises(SandboxUnavailable, match="bubblewrap.*FNGATE_SANDBOX=process"):
        Sandbox.detect("namespaces")
    plain = Sandbox.detect("process")
    assert plain.isolation == "process" and plain.prlimit == "/usr/bin/prlimit"
    monkeypatch.setattr(executors.sandbox.shutil, "which", lambda name, *a, **k: None)
    with pytest.raises(SandboxUnavailable, match="prlimit"):
        Sandbox.detect("process")  # no limits, no workers: never silently unlimited


def test_uids_are_never_shared_by_two_live_holders_even_across_pools(tmp_path: Path) -> None:
    a = UidPool(300000, 300002, tmp_path)
    b = UidPool(300000, 300002, tmp_path)  # another gateway on the host
    first, second = a.acquire(), b.acquire()
    third = a.acquire()
    assert len({first.uid, second.uid, third.uid}) == 3
    with pytest.raises(SandboxUnavailable, match="in use"):
        b.acquire()
    second.release()
    assert b.acquire().uid == second.uid
    assert oct(tmp_path.stat().st_mode & 0o777) == "0o700"


def test_limits_are_checked_against_what_the_kernel_shows() -> None:
    prlimit = shutil.which("prlimit")
    if prlimit is None:
        pytest.skip("prlimit (util-linux) is not installed")
    proc = subprocess.Popen([*LIMITS.prlimit_argv(prlimit), "sleep", "10"])
    try:
        deadline = time.monotonic() + 5
        while "Max open files" not in read_limits(proc.pid) or \
                read_limits(proc.pid)["Max open files"] != ("256", "256"):
            assert time.monotonic() < deadline, "prlimit did not exec"
            time.sleep(0.01)
        check_limits(proc.pid, LIMITS)
        with pytest.raises(SandboxUnavailable, match="Max open files"):
            check_limits(proc.pid, RLimits(nofile=1024, fsize=LIMITS.fsize, nproc=LIMITS.nproc))
    finally:
        proc.kill()
        proc.wait()
    with pytest.raises(SandboxUnavailable, match="rlimit"):
        check_limits(os.getpid(), LIMITS)  # this process has no such limits


def test_allow_entries_parse_with_and_without_ports() -> None:
    got = egress.parse_allow(["10.0.0.0/8", "192.168.1.5:5432", "[fd00::1]:443", " ", "fd00::/8"])
    assert [(str(e.network), e.port) for e in got] == [
        ("10.0.0.0/8", None), ("192.168.1.5/32", 5432), ("fd00::1/128", 443), ("fd00::/8", None)]


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "host.example:80", "10.0.0.1:0",
                                 "10.0.0.1:99999", "[fd00::1]x"])
def test_bad_allow_entries_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="egress allow entry"):
        egress.parse_allow([bad])


def test_the_ruleset_refuses_every_private_and_local_range_for_the_worker_uids() -> None:
    text = egress.ruleset(200000, 265535, egress.parse_allow(["10.1.2.3:5432"]), ["10.255.0.53"])
    # Only sockets of the worker uids: never the kernel's own packets (a reset has no socket).
    assert "meta skuid 200000-265535 jump function" in text and "skuid !=" not in text
    assert "fib daddr type { local" in text
    for net in ("10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
                "192.168.0.0/16", "fc00::/7", "fe80::/10", "::ffff:0:0/96", "64:ff9b::/96"):
        assert net in text, net
    # This host's addresses are refused before any allow entry; allowed entries come before
    # the other refusals; DNS only to the resolvers, only on port 53.
    assert text.index("fib daddr type") < text.index("10.1.2.3/32 tcp dport 5432 accept")
    assert text.index("10.1.2.3/32 tcp dport 5432 accept") < text.index("ip daddr {")
    assert "ip daddr 10.255.0.53 udp dport 53 accept" in text


def test_blocked_ranges_cover_the_issue_list() -> None:
    nets = [ipaddress.ip_network(n) for n in egress.BLOCKED_V4 + egress.BLOCKED_V6]
    for addr in ("127.0.0.1", "10.2.3.4", "172.20.0.1", "192.168.9.9", "100.100.0.1",
                 "169.254.169.254", "0.1.2.3", "224.0.0.1", "::1", "fd12::1", "fe80::1",
                 "::ffff:127.0.0.1", "64:ff9b::a00:1", "2002:a00:1::1"):
        ip = ipaddress.ip_address(addr)
        assert any(ip.version == n.version and ip in n for n in nets), addr
    for public in ("203.0.113.241", "8.8.8.8", "2001:4860:4860::8888"):
        ip = ipaddress.ip_address(public)
        assert not any(ip.version == n.version and ip in n for n in nets), public


def test_host_resolvers_are_read_from_resolv_conf(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("# x\nnameserver 10.0.0.53\nnameserver fe80::1%eth0\nnameserver bogus\n"
                    "search example\n")
    assert egress.host_resolvers(conf) == ("10.0.0.53", "fe80::1")
    assert egress.host_resolvers(tmp_path / "missing") == ()


@pytest.mark.parametrize(("key", "value", "match"), [
    ("sandbox", "bwrap", "FNGATE_SANDBOX"),
    ("sandbox", "none", "FNGATE_SANDBOX"),
    ("worker_uid_range", "5-10", "FNGATE_WORKER_UID_RANGE"),
    ("worker_uid_range", "300000", "FNGATE_WORKER_UID_RANGE"),
    ("worker_uid_range", "300000-200000", "FNGATE_WORKER_UID_RANGE"),
    ("function_egress_allow", "10.0.0.0/40", "FNGATE_FUNCTION_EGRESS_ALLOW"),
    ("function_egress_allow", "10.0.0.1:http", "FNGATE_FUNCTION_EGRESS_ALLOW"),
    ("max_ephemeral_storage_mb", "8", "EPHEMERAL"),
])
def test_sandbox_settings_are_validated(key: str, value: str, match: str) -> None:
    with pytest.raises(config.SettingsError, match=match):
        config.load({"FNGATE_" + key.upper(): value}, toml_path="/nonexistent.toml")


def test_sandbox_defaults_to_namespaces_with_the_documented_uid_range() -> None:
    s = config.load({}, toml_path="/nonexistent.toml")
    assert s.sandbox == "namespaces" and s.worker_uids == (200000, 265535)
    assert config.load({"FNGATE_SANDBOX": "process"},
                       toml_path="/nonexistent.toml").sandbox == "process"
