"""The attack suite's fixtures: a real ``fngate serve`` as root, a tenant token, and
helpers that look at the host from outside the sandbox (``/proc``, sockets).

Every test here plays a tenant holding ``execute:all read:functions write:functions
read:jobs`` (no ``admin``) who writes a function that attacks the machine, and asserts
from outside (the test process is root on the host) that the attack did not work.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.conftest import IN_CI, TEST_SECRET, scratch_database
from tests.e2e.serve import clean_env, fngate_argv, free_port, wait_ready

TENANT_SCOPES = "execute:all read:functions write:functions read:jobs"
DEFAULT_UID_RANGE = (200000, 265535)
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _unavailable(message: str) -> None:
    if IN_CI:
        pytest.fail(message + " (CI=true: the security suite must run)")
    pytest.skip(message)


def require_sandbox_host() -> None:
    """Root, bubblewrap, pasta, nft and PostgreSQL: what the sandbox needs as in production."""
    if os.geteuid() != 0:
        _unavailable("the security suite runs fngate serve as root (per-worker uids, nftables)")
    for tool, package in (("bwrap", "bubblewrap"), ("pasta", "passt"), ("nft", "nftables"),
                          ("prlimit", "util-linux")):
        require_tool(tool, package)


def require_tool(tool: str, package: str) -> None:
    if shutil.which(tool) is None and shutil.which(tool, path="/usr/sbin:/sbin") is None:
        _unavailable(f"{tool} is not installed (Debian: apt-get install {package})")


def tenant_token(sub: str = "mallory", scopes: str = TENANT_SCOPES) -> str:
    now = int(time.time())
    claims = {"sub": sub, "scope": scopes, "iat": now, "exp": now + 3600}
    return jwt.encode(claims, TEST_SECRET, algorithm="HS256")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# --- the gateway -------------------------------------------------------------------


@dataclass
class Gateway:
    """One running ``fngate serve`` and a tenant's view of its API."""

    base: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    builds_dir: Path
    headers: dict[str, str]

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def create(self, name: str, code: str, runtime: str = "python", **fields: Any) -> dict:
        body = {"name": name, "runtime": runtime, "code": code, **fields}
        r = httpx.post(self.base + "/api/v1/functions", json=body, headers=self.headers,
                       timeout=30)
        assert r.status_code == 201, r.text
        return r.json()

    def delete(self, name: str) -> None:
        r = httpx.delete(f"{self.base}/api/v1/functions/{name}", headers=self.headers,
                         timeout=30)
        assert r.status_code in (200, 202, 204), r.text

    def invoke(self, name: str, event: Any = None, timeout_s: float = 60) -> dict:
        r = httpx.post(f"{self.base}/api/v1/functions/{name}/invoke", json=event or {},
                       headers=self.headers, timeout=timeout_s)
        assert r.status_code in (200, 500, 502, 504), r.text
        body = r.json()
        body.setdefault("_http_status", r.status_code)
        return body

    def call(self, name: str, event: Any = None, timeout_s: float = 60) -> Any:
        """Invoke and return the function's result (the call must succeed)."""
        body = self.invoke(name, event, timeout_s)
        assert body.get("status") == "success", json.dumps(body)[:3000]
        return body["result"]

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.base + path, timeout=10, **kwargs)

    def assert_healthy(self) -> None:
        """The gateway survived the attack: /health answers 200 and is not down."""
        assert self.proc.poll() is None, "fngate serve died:\n" + self.log_tail()
        r = self.get("/health")
        assert r.status_code == 200, r.text
        assert r.json()["status"] in ("ok", "degraded"), r.text


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def run_gateway(database_url: str, **env_extra: str) -> Iterator[Gateway]:
    """``fngate serve`` as root with the namespace sandbox (FNGATE_SANDBOX unset)."""
    # Outside pytest's tmp (as tests/e2e/test_cli_serve.py): the worker uids traverse it to
    # the published builds (TMPDIR/fngate-builds), so it is 0755; the data dir inside
    # is created 0700 by the gateway itself.
    own = Path(tempfile.mkdtemp(prefix="fngate-sec-"))
    own.chmod(0o755)
    tmp = own / "tmp"
    tmp.mkdir(mode=0o755)
    tmp.chmod(0o755)
    port = free_port()
    env = clean_env(**{
        "FNGATE_DATABASE_URL": database_url,
        "FNGATE_JWT_SECRET": TEST_SECRET,
        "FNGATE_RATE_LIMITS": "off",
        "FNGATE_PREWARM_PER_RUNTIME": "1",
        "TMPDIR": str(tmp),
        **env_extra,
    })
    log_path = own / "serve.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [*fngate_argv(), "serve", "--data-dir", str(own / "data"), "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    gw = Gateway(base=f"http://127.0.0.1:{port}", port=port, proc=proc, log_path=log_path,
                 builds_dir=tmp / "fngate-builds",
                 headers={"Authorization": f"Bearer {tenant_token()}"})
    try:
        wait_ready(gw.base, proc, log_tail=gw.log_tail)
        yield gw
    finally:
        _stop(proc)
        shutil.rmtree(own, ignore_errors=True)


@pytest.fixture(scope="module")
def sandbox_host() -> None:
    require_sandbox_host()


@pytest.fixture(scope="module")
async def security_db(sandbox_host: None, pg_template: str) -> AsyncIterator[str]:
    async with scratch_database("fngate_sec", pg_template) as url:
        yield url


@pytest.fixture(scope="module")
def gateway(security_db: str) -> Iterator[Gateway]:
    """ONE ``fngate serve`` for the module, default sandbox settings."""
    with run_gateway(security_db) as gw:
        yield gw


# --- looking at the host from outside ---------------------------------------------------


@dataclass(frozen=True)
class HostProc:
    pid: int
    uid: int
    state: str
    comm: str
    cmdline: tuple[str, ...]
    ticks: int  # utime + stime


def host_procs() -> list[HostProc]:
    """Every process of the host (the test runs in the host's PID namespace)."""
    out: list[HostProc] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", "rb") as fh:
                uid_line = next(ln for ln in fh if ln.startswith(b"Uid:"))
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read().decode("utf-8", "replace")
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read().decode("utf-8", "replace")
        except (OSError, StopIteration):
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        rest = stat[stat.rindex(")") + 2 :].split()
        out.append(HostProc(
            pid=int(entry), uid=int(uid_line.split()[1]), state=rest[0], comm=comm,
            cmdline=tuple(cmdline.split("\0")[:-1]), ticks=int(rest[11]) + int(rest[12]),
        ))
    return out


def procs_of_uid(uid: int) -> list[HostProc]:
    return [p for p in host_procs() if p.uid == uid]


def wait_until(predicate: Callable[[], Any], timeout_s: float, interval_s: float = 0.05) -> Any:
    """Poll ``predicate`` until truthy; return its last value (falsy after the timeout)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval_s)


def host_addresses() -> list[str]:
    """This machine's own global addresses (eth0's, …), not loopback, read from /proc."""
    found: list[str] = []
    with contextlib.suppress(OSError):
        last = None
        for line in Path("/proc/net/fib_trie").read_text().splitlines():
            words = line.split()
            if len(words) == 2 and words[0].endswith("--"):
                last = words[1]
            elif "/32 host LOCAL" in line and last and not last.startswith("127."):
                if last not in found:
                    found.append(last)
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/if_inet6").read_text().splitlines():
            fields = line.split()
            if len(fields) >= 6 and fields[3] == "00":  # scope global
                address = str(ipaddress.IPv6Address(int(fields[0], 16)))
                if address not in found:
                    found.append(address)
    return found


def tcp_exchange(host: str, port: int, payload: bytes, timeout_s: float = 2.0) -> bytes:
    """Connect, send ``payload``, return what comes back within the timeout (b"" if none)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(timeout_s)
        try:
            s.connect((host, port))
            if payload:
                s.sendall(payload)
            return s.recv(256)
        except OSError:
            return b""


class Canary:
    """A TCP service of the host on every address (``::``, dual-stack) that greets each
    connection with a token: reachable from outside on loopback, the host's own
    addresses and a test veth, so a function that reaches it is caught."""

    def __init__(self) -> None:
        self.token = b"CANARY-" + uuid.uuid4().hex.encode() + b"\n"
        self._sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("::", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self.port = int(self._sock.getsockname()[1])
        self.hits: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, addr = self._sock.accept()
            except OSError:
                continue
            with conn:
                self.hits.append(str(addr[0]))
                with contextlib.suppress(OSError):
                    conn.sendall(self.token)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()


@pytest.fixture(scope="module")
def canary() -> Iterator[Canary]:
    c = Canary()
    try:
        yield c
    finally:
        c.close()
