#!/bin/sh
# The Debian packages fngate's worker sandbox needs: bubblewrap (namespaces), passt (pasta:
# a function's filtered network uplink), nftables (the egress filter, as root), util-linux
# (prlimit), iproute2 (the security tests' network namespaces); and the toolchains of the
# compiled runtimes: Go (golang-1.19-go, seed 001's go119; a newer Debian Go found first is
# used as it is), Rust (rustc and cargo, unless a toolchain is installed where the workers'
# uids can run it: a rustup one under a 0700 /root is not) with Debian's packaged serde_json
# crates (librust-serde-json-dev), the offline source of every Rust build. Installs only
# what is missing; uses sudo when not root.
set -eu
missing=""
command -v bwrap >/dev/null 2>&1 || missing="$missing bubblewrap"
command -v pasta >/dev/null 2>&1 || missing="$missing passt"
command -v prlimit >/dev/null 2>&1 || missing="$missing util-linux"
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || missing="$missing iproute2"
go_found=""
for go in /usr/lib/go-1.*/bin/go /usr/local/go/bin/go /usr/bin/go; do
  [ -x "$go" ] && go_found=1
done
[ -n "$go_found" ] || missing="$missing golang-1.19-go"
[ -x /usr/bin/rustc ] || [ -x /usr/local/bin/rustc ] || missing="$missing rustc"
[ -x /usr/bin/cargo ] || [ -x /usr/local/bin/cargo ] || missing="$missing cargo"
ls -d /usr/share/cargo/registry/serde_json-1.* >/dev/null 2>&1 || missing="$missing librust-serde-json-dev"
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
