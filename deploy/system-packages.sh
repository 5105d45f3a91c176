#!/bin/sh
# The Debian packages fngate's worker sandbox needs: bubblewrap (namespaces), passt (pasta:
# a function's filtered network uplink), nftables (the egress filter, as root), util-linux
# (prlimit), iproute2 (the security tests' network namespaces). Installs only what is
# missing; uses sudo when not root.
set -eu
missing=""
command -v bwrap >/dev/null 2>&1 || missing="$missing bubblewrap"
command -v pasta >/dev/null 2>&1 || missing="$missing passt"
command -v prlimit >/dev/null 2>&1 || missing="$missing util-linux"
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || missing="$missing iproute2"
if [ "$(id -u)" = 0 ]; then
  command -v nft >/dev/null 2>&1 || [ -x /usr/sbin/nft ] || missing="$missing nftables"
fi
[ -z "$missing" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "fngate: install$missing with your package manager (or run with FNGATE_SANDBOX=process," >&2
  echo "        which runs functions without namespaces)" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
echo "fngate: installing$missing" >&2
$sudo apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
