#!/usr/bin/env bash
# Set up everything orc and its tests need on a Debian 12 machine, idempotently (a second run is quick):
# Debian packages, a virtualenv in .venv, and the package installed into it (editable).
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(python3 python3-venv python3-pip docker.io openssh-server openssh-client haproxy iproute2 iptables
      busybox-static util-linux procps kmod ca-certificates vagrant etcd-server etcd-client)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]}" >&2
    echo "setup: run this as root, or: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}" >&2
  # Packages must not start their services (dockerd, sshd, haproxy, etcd) in the root namespace: the lab
  # starts its own, per host.
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; created_policy=1; fi
  trap '[ "$created_policy" = 1 ] && rm -f "$policy"' EXIT
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv" >&2
  "$PY" -m venv .venv
fi
stamp=.venv/.orc-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing orchestrator and its test tools into .venv" >&2
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  .venv/bin/python -m pip install -q -e '.[test,etcd]'
  echo "$want" >"$stamp"
fi
# The package's bytecode, as pip writes it for what it installs into site-packages: an editable install
# has none until a run writes it, and none is ever written where PYTHONDONTWRITEBYTECODE is set (as on
# this project's CI machines), so every `orc` (a cron pass included) would compile ~100 modules from source
# first, about 0.25 s. Python still checks each file's mtime, so an edited module is never run stale.
.venv/bin/python -m compileall -q orchestrator >/dev/null
