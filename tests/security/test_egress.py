"""Issue 9's egress attack: a function reaches public hosts only, ``"network": "none"``
reaches nothing, and an operator's allow-list opens exactly what it names.

The test builds its own hosts in a network namespace (the only traffic it sends
leaves this machine for nowhere): a veth pair, host side 10.213.7.1/24, namespace
side 10.213.7.2/24 (a private host) plus 203.0.113.241/32 (a public host, routed
to the namespace), each serving HTTP on 8080 (and 8081) with a token.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import scratch_database
from tests.security.conftest import (
    Canary,
    Gateway,
    require_tool,
    run_gateway,
    tcp_exchange,
    unique,
)

HOST_SIDE = "10.213.7.1"
PRIVATE = "10.213.7.2"
PUBLIC = "203.0.113.241"
# A second address of this machine, outside every blocked range (as a host's public
# secondary address or VIP would be): only "this host's own addresses" refuses it.
HOST_PUBLIC = "198.51.100.77"
ALLOW_UID_RANGE = "270000-270999"

PY_FETCH = '''
import socket

def _get(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)
    got = b""
    try:
        s.connect((host, port))
        s.sendall(f"GET /token.txt HTTP/1.0\\r\\nHost: {host}\\r\\n\\r\\n".encode())
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
    except OSError as exc:
        return {"body": got.decode("latin-1"), "error": type(exc).__name__,
                "errno": exc.errno}
    finally:
        s.close()
    return {"body": got.decode("latin-1"), "error": None, "errno": None}

def _udp(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.5)
    try:
        s.sendto(b"ping", (host, port))
        data, _ = s.recvfrom(256)
        return {"body": data.decode("latin-1"), "error": None, "errno": None}
    except OSError as exc:
        return {"body": "", "error": type(exc).__name__, "errno": exc.errno}
    finally:
        s.close()

def handler(event):
    out = {f"{h}:{p}": _get(h, p) for h, p in event["targets"]}
    out.update({f"udp {h}:{p}": _udp(h, p) for h, p in event.get("udp", [])})
    return out
'''

NODE_FETCH = '''
const net = require('net');
function get(host, port) {
  return new Promise((resolve) => {
    const chunks = [];
    let err = null;
    let done = false;
    const s = net.connect({ host, port });
    const finish = () => {
      if (done) return;
      done = true;
      s.destroy();
      resolve({ body: Buffer.concat(chunks).toString('latin1'), error: err });
    };
    s.setTimeout(2000, () => { err = err || 'ETIMEDOUT'; finish(); });
    s.on('connect', () => s.write(`GET /token.txt HTTP/1.0\\r\\nHost: ${host}\\r\\n\\r\\n`));
    s.on('data', (d) => chunks.push(d));
    s.on('error', (e) => { err = e.code || String(e); finish(); });
    s.on('close', finish);
  });
}
exports.handler = async (event) => {
  const out = {};
  await Promise.all(event.targets.map(async ([h, p]) => { out[`${h}:${p}`] = await get(h, p); }));
  return out;
};
'''

FETCH_CODE = {"python": PY_FETCH, "nodejs": NODE_FETCH}


@dataclass
class EgressHosts:
    token: str
    canary_port: int
    host_if: str
    udp_port: int
    udp_token: bytes


class UdpCanary:
    """A UDP service of the host on every address: answers each datagram with a token."""

    def __init__(self) -> None:
        self.token = b"UDP-CANARY-" + uuid.uuid4().hex.encode()
        self._sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        self._sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        self._sock.bind(("::", 0))
        self._sock.settimeout(0.2)
        self.port = int(self._sock.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                _, addr = self._sock.recvfrom(256)
                self._sock.sendto(self.token, addr)
            except OSError:
                continue

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20,
                          check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {proc.stderr.strip()}")
    return proc


def _in_use() -> str | None:
    addrs = _ip("-o", "addr", "show", check=False).stdout
    routes = _ip("route", "show", check=False).stdout
    if "10.213.7." in addrs or "10.213.7." in routes or HOST_PUBLIC in addrs:
        return "10.213.7.0/24 or 198.51.100.77 is already in use on this machine"
    if PUBLIC in routes:
        return f"a route to {PUBLIC} already exists"
    return None


@pytest.fixture(scope="module")
def egress_hosts(sandbox_host: None, canary: Canary) -> Iterator[EgressHosts]:
    """The namespace with the private and the public test host (torn down at the end)."""
    require_tool("ip", "iproute2")
    busy = _in_use()
    if busy:
        pytest.skip(busy)
    tag = uuid.uuid4().hex[:6]
    ns, host_if, ns_if = f"fgsec-{tag}", f"fgsh{tag}", f"fgsn{tag}"
    token = "egress-token-" + uuid.uuid4().hex
    served = Path(tempfile.mkdtemp(prefix="fgsec-www-"))
    (served / "token.txt").write_text(token)
    served.chmod(0o755)
    servers: list[subprocess.Popen[bytes]] = []
    routed = False
    udp = UdpCanary()
    try:
        _ip("netns", "add", ns)
        _ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        _ip("link", "set", ns_if, "netns", ns)
        _ip("addr", "add", f"{HOST_SIDE}/24", "dev", host_if)
        _ip("addr", "add", f"{HOST_PUBLIC}/32", "dev", host_if)
        _ip("link", "set", host_if, "up")
        for args in (("addr", "add", f"{PRIVATE}/24", "dev", ns_if),
                     ("addr", "add", f"{PUBLIC}/32", "dev", ns_if),
                     ("link", "set", ns_if, "up"), ("link", "set", "lo", "up"),
                     ("route", "add", "default", "via", HOST_SIDE)):
            _ip("netns", "exec", ns, "ip", *args)
        _ip("route", "add", f"{PUBLIC}/32", "via", PRIVATE)
        routed = True
        for port in ("8080", "8081"):
            servers.append(subprocess.Popen(
                ["ip", "netns", "exec", ns, sys.executable, "-I", "-m", "http.server", port,
                 "--bind", "0.0.0.0", "--directory", str(served)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
            ))
        deadline = time.monotonic() + 15
        for url in (f"http://{PRIVATE}:8080/token.txt", f"http://{PRIVATE}:8081/token.txt"):
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(url, timeout=1).text == token:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the test host did not answer on {url}")
                time.sleep(0.1)
        yield EgressHosts(token=token, canary_port=canary.port, host_if=host_if,
                          udp_port=udp.port, udp_token=udp.token)
    finally:
        udp.close()
        for server in servers:
            server.kill()
            server.wait()
        if routed:
            _ip("route", "del", f"{PUBLIC}/32", check=False)
        _ip("link", "del", host_if, check=False)
        _ip("netns", "del", ns, check=False)
        for leftover in served.iterdir():
            leftover.unlink()
        served.rmdir()


@pytest.fixture(scope="module")
async def allow_db(sandbox_host: None, pg_template: str) -> AsyncIterator[str]:
    async with scratch_database("fngate_sec", pg_template) as url:
        yield url


@pytest.fixture(scope="module")
def allowing_gateway(allow_db: str, egress_hosts: EgressHosts) -> Iterator[Gateway]:
    """A second gateway whose operator allows the private host's port 8080 (its own uid
    range: the nftables table is per range)."""
    table = f"fngate_egress_{ALLOW_UID_RANGE.replace('-', '_')}"
    try:
        with run_gateway(allow_db, FNGATE_WORKER_UID_RANGE=ALLOW_UID_RANGE,
                         FNGATE_FUNCTION_EGRESS_ALLOW=f"{PRIVATE}/32:8080") as gw:
            yield gw
    finally:
        subprocess.run(["nft", "delete", "table", "inet", table], capture_output=True,
                       timeout=20, check=False)


def _targets(hosts: EgressHosts) -> list[list]:
    return [[PUBLIC, 8080], [PRIVATE, 8080], [PRIVATE, 8081], [HOST_SIDE, hosts.canary_port],
            [HOST_PUBLIC, hosts.canary_port]]


def _udp_targets(hosts: EgressHosts) -> list[list]:
    return [[HOST_SIDE, hosts.udp_port], [HOST_PUBLIC, hosts.udp_port]]




def _control(hosts: EgressHosts) -> None:
    """From outside, every target answers: the public and private hosts with the token,
    the host-local address with the canary."""
    # Never a packet to the real 203.0.113.0/24: the /32 must still go to our namespace.
    route = _ip("route", "get", PUBLIC).stdout
    assert f"dev {hosts.host_if} " in route, f"{PUBLIC} is not routed to the test host: {route}"
    for host in (PUBLIC, PRIVATE):
        for port in (8080, 8081):
            r = httpx.get(f"http://{host}:{port}/token.txt", timeout=2)
            assert r.text == hosts.token, (host, port)
    for address in (HOST_SIDE, HOST_PUBLIC):
        assert tcp_exchange(address, hosts.canary_port, b"").startswith(b"CANARY-"), address
        assert _ask_udp(address, hosts.udp_port) == hosts.udp_token, address


def _ask_udp(host: str, port: int) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        try:
            s.sendto(b"ping", (host, port))
            return s.recvfrom(256)[0]
        except OSError:
            return b""


def _got_token(outcome: dict, token: str) -> bool:
    return token in outcome["body"]


@pytest.mark.parametrize("runtime", ["python", "nodejs"])
def test_egress_reaches_public_hosts_only(
    gateway: Gateway, egress_hosts: EgressHosts, runtime: str
) -> None:
    _control(egress_hosts)
    name = unique(f"egr-{runtime[:2]}")
    gateway.create(name, FETCH_CODE[runtime], runtime=runtime)  # network: egress (default)
    event = {"targets": _targets(egress_hosts), "udp": _udp_targets(egress_hosts)}
    result = gateway.call(name, event)
    token = egress_hosts.token
    assert _got_token(result[f"{PUBLIC}:8080"], token), result
    refused = [k for k in result if not k.startswith(f"{PUBLIC}:")]
    assert len(refused) == 4 + (2 if runtime == "python" else 0), result
    for target in refused:
        assert result[target]["body"] == "", (target, result[target])
        assert result[target]["error"], (target, result[target])
    gateway.assert_healthy()


@pytest.mark.parametrize("runtime", ["python", "nodejs"])
def test_network_none_reaches_nothing(
    gateway: Gateway, egress_hosts: EgressHosts, runtime: str
) -> None:
    _control(egress_hosts)
    name = unique(f"none-{runtime[:2]}")
    gateway.create(name, FETCH_CODE[runtime], runtime=runtime, network="none")
    result = gateway.call(name, {"targets": _targets(egress_hosts),
                                 "udp": _udp_targets(egress_hosts)})
    assert len(result) == 5 + (2 if runtime == "python" else 0), result
    for target, outcome in result.items():
        assert outcome["body"] == "", (target, outcome)
        if runtime == "python":
            assert outcome["errno"] == 101, (target, outcome)  # ENETUNREACH
        else:
            assert outcome["error"] == "ENETUNREACH", (target, outcome)
    gateway.assert_healthy()


def test_operator_allow_list_opens_exactly_what_it_names(
    allowing_gateway: Gateway, egress_hosts: EgressHosts
) -> None:
    _control(egress_hosts)
    name = unique("allow")
    allowing_gateway.create(name, PY_FETCH)
    result = allowing_gateway.call(name, {"targets": _targets(egress_hosts)})
    token = egress_hosts.token
    assert _got_token(result[f"{PUBLIC}:8080"], token), result
    assert _got_token(result[f"{PRIVATE}:8080"], token), result  # allowed by the operator
    assert result[f"{PRIVATE}:8081"]["body"] == "", result  # another port of it: not
    for address in (HOST_SIDE, HOST_PUBLIC):
        assert result[f"{address}:{egress_hosts.canary_port}"]["body"] == "", result
    allowing_gateway.assert_healthy()


def test_a_tenant_cannot_widen_its_own_egress(
    gateway: Gateway, egress_hosts: EgressHosts
) -> None:
    """Only the operator allows internal destinations: nothing in a tenant's request does."""
    _control(egress_hosts)
    for network in ("host", "all", "EGRESS"):
        r = httpx.post(gateway.base + "/api/v1/functions", headers=gateway.headers, timeout=30,
                       json={"name": unique("wide"), "runtime": "python", "code": PY_FETCH,
                             "network": network})
        assert r.status_code == 400, r.text
    allow = f"{PRIVATE}/32:8080"
    for field, value in (("egress_allow", [allow]), ("function_egress_allow", allow)):
        r = httpx.post(gateway.base + "/api/v1/functions", headers=gateway.headers, timeout=30,
                       json={"name": unique("wide"), "runtime": "python", "code": PY_FETCH,
                             field: value})
        assert r.status_code == 400, r.text  # refused by name, never silently ignored
        assert r.json()["error"]["details"]["field"] == field, r.text
    name = unique("wide")
    gateway.create(name, PY_FETCH, environment={"FNGATE_FUNCTION_EGRESS_ALLOW": allow})
    result = gateway.call(name, {"targets": [[PRIVATE, 8080]]})
    assert result[f"{PRIVATE}:8080"]["body"] == "", result
    gateway.assert_healthy()
