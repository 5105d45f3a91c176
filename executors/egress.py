"""The egress filter: what a function's network namespace may reach (nftables, as root).

A function's packets leave its namespace through pasta, whose sockets on the
host belong to the worker's uid. One nftables table per uid range filters
every socket of those uids on the host's ``output`` hook:

- allowed first: the operator's ``FNGATE_FUNCTION_EGRESS_ALLOW`` entries
  (``CIDR`` or ``CIDR:port``), and the host's own DNS resolvers on port 53;
- refused: every address of this host (``fib daddr type local``: loopback and
  the gateway's own addresses), loopback, RFC 1918, CGNAT ``100.64.0.0/10``,
  link-local ``169.254.0.0/16`` (cloud metadata), ``0.0.0.0/8``, multicast,
  reserved, broadcast; IPv6 loopback, unspecified, ULA, link-local, multicast,
  and the forms that embed an IPv4 address (mapped, compatible, NAT64, 6to4).

Everything else (public addresses) is accepted. The table is replaced as one
transaction (``nft -f``), so gateways sharing a uid range share one filter.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import config
from executors import spawn

__all__ = [
    "BLOCKED_V4",
    "BLOCKED_V6",
    "EgressAllow",
    "EgressFilterError",
    "host_resolvers",
    "install",
    "parse_allow",
    "ruleset",
]

BLOCKED_V4 = (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15",
    "224.0.0.0/4", "240.0.0.0/4",
)  # fmt: skip
BLOCKED_V6 = (
    "::/96",  # unspecified, loopback and IPv4-compatible
    "::ffff:0:0/96",  # IPv4-mapped
    "64:ff9b::/96", "64:ff9b:1::/48",  # NAT64
    "100::/64",  # discard
    "2002::/16",  # 6to4 (embeds any IPv4 address)
    "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
)  # fmt: skip


class EgressFilterError(RuntimeError):
    """The filter cannot be installed (not root, no nft, the kernel refused)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EgressAllow:
    """One operator-allowed destination: a network, optionally one port (TCP and UDP)."""

    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    port: int | None = None

    def rules(self) -> list[str]:
        family = "ip" if self.network.version == 4 else "ip6"
        match = f"{family} daddr {self.network}"
        if self.port is None:
            return [f"{match} accept"]
        return [f"{match} tcp dport {self.port} accept", f"{match} udp dport {self.port} accept"]


def parse_allow(entries: Iterable[str]) -> tuple[EgressAllow, ...]:
    """Parse ``CIDR`` / ``CIDR:port`` / ``[v6CIDR]:port`` entries (ValueError names the bad
    one) with the parser that validates ``FNGATE_FUNCTION_EGRESS_ALLOW``."""
    return tuple(EgressAllow(network=network, port=port)
                 for network, port in config.parse_egress_allow(entries))


def host_resolvers(path: Path = Path("/etc/resolv.conf")) -> tuple[str, ...]:
    """The nameserver addresses of the host's resolv.conf (functions resolve through them)."""
    found: list[str] = []
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return ()
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            try:
                found.append(str(ipaddress.ip_address(parts[1].split("%")[0])))
            except ValueError:
                continue
    return tuple(found)


def table_name(uid_low: int, uid_high: int) -> str:
    return f"fngate_egress_{uid_low}_{uid_high}"


def ruleset(
    uid_low: int,
    uid_high: int,
    allow: Sequence[EgressAllow],
    resolvers: Sequence[str],
) -> str:
    """The nft script that (re)creates the filter for sockets of uids low..high."""
    accept: list[str] = []
    for entry in allow:
        accept += entry.rules()
    for addr in resolvers:
        family = "ip" if ipaddress.ip_address(addr).version == 4 else "ip6"
        accept += [f"{family} daddr {addr} udp dport 53 accept",
                   f"{family} daddr {addr} tcp dport 53 accept"]
    name = table_name(uid_low, uid_high)
    body = "\n".join(
        [
            # This host's own addresses first: no allow-list entry can open them.
            "    fib daddr type { local, broadcast, anycast, multicast } jump refuse",
            *(f"    {rule}" for rule in accept),
            f"    ip daddr {{ {', '.join(BLOCKED_V4)} }} jump refuse",
            "    ip daddr 255.255.255.255 jump refuse",
            f"    ip6 daddr {{ {', '.join(BLOCKED_V6)} }} jump refuse",
        ]
    )
    return (
        f"table inet {name}\n"
        f"delete table inet {name}\n"
        f"table inet {name} {{\n"
        # A TCP reset makes the function's connect() fail at once (pasta turns the
        # refused socket into a reset), not after a timeout.
        "  chain refuse {\n"
        "    meta l4proto tcp reject with tcp reset\n"
        "    reject\n"
        "  }\n"
        # Only packets of a socket of a worker uid are judged: the kernel's own (a reset
        # for a closed port, an ICMP error) have no socket and must pass untouched.
        "  chain out {\n"
        "    type filter hook output priority -10; policy accept;\n"
        f"    meta skuid {uid_low}-{uid_high} jump function\n"
        "  }\n"
        "  chain function {\n"
        f"{body}\n"
        "  }\n"
        "}\n"
    )


def install(script: str) -> None:
    """Apply ``script`` with ``nft -f -`` (blocking); raise EgressFilterError on failure."""
    if os.geteuid() != 0:
        raise EgressFilterError(
            "network egress needs the gateway to run as root (the egress filter is an"
            " nftables table); functions with network \"none\" still run"
        )
    nft = shutil.which("nft") or shutil.which("nft", path="/usr/sbin:/sbin")
    if nft is None:
        raise EgressFilterError("network egress needs nft (Debian: apt-get install nftables)")
    proc = spawn.run([nft, "-f", "-"], env=None, input=script.encode(), timeout=20)
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise EgressFilterError(f"nft refused the egress filter: {err[:500]}")
