"""The egress filter judges worker sockets only: the host's own traffic is untouched."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from executors import egress
from tests.conftest import need_tool

LOW, HIGH = 290000, 290009  # a range of this test's own: one table per uid range


@pytest.fixture
def installed() -> Iterator[None]:
    if os.geteuid() != 0:
        pytest.skip("the egress filter is installed only as root")
    need_tool("nft", "nftables")
    egress.install(egress.ruleset(LOW, HIGH, (), egress.host_resolvers()))
    try:
        yield
    finally:
        subprocess.run(["nft", "delete", "table", "inet", egress.table_name(LOW, HIGH)],
                       check=False, capture_output=True)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.usefixtures("installed")
def test_a_closed_loopback_port_still_refuses_at_once_for_the_host() -> None:
    # The kernel's reset for a closed port has no socket: a filter that judged it would
    # turn every refused connection on the host into a timeout.
    started = time.monotonic()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", _closed_port()), timeout=5)
    assert time.monotonic() - started < 2


@pytest.mark.usefixtures("installed")
def test_a_worker_uid_cannot_reach_host_loopback() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        code = (f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}),"
                " timeout=2)\n    print('CONNECTED')\nexcept OSError as e:\n    print(e.errno)\n")
        out = subprocess.run(["/usr/bin/python3", "-I", "-S", "-c", code], user=LOW, group=LOW,
                             extra_groups=[], capture_output=True, text=True, timeout=20)
        assert out.stdout.strip() != "CONNECTED" and out.returncode == 0, out
        # Root, outside the range, still reaches it.
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
