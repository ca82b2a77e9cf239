#!/usr/bin/env bash
# Switches this machine's Docker daemon between the engines the suite is tested on. One engine
# runs at a time (two daemons on one host fight over the default bridge), each with its own data
# root, both on the default socket: everything that talks to Docker follows without a setting.
#
#   scripts/engine.sh 26      stop the running dockerd, start Engine 26 (Debian trixie's docker.io,
#                             unpacked under /opt/grader-engines/26, data in /var/lib/docker-26)
#   scripts/engine.sh 20.10   stop the running dockerd, start the installed one (Debian's docker.io)
#   scripts/engine.sh status  print the version of the engine that answers
#
# Engine 26's packages are fetched once from Debian trixie with apt into a private apt state;
# they are unpacked, not installed, and run with bookworm's runc (trixie's needs a newer glibc).
# Needs root. Only the daemon this script or ensure-docker.sh started is stopped: run it on a
# machine whose engine is yours (CI, a grading machine), not on a shared one.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
log() { printf '[engine] %s\n' "$*" >&2; }
die() { printf '[engine] ERROR: %s\n' "$*" >&2; exit 1; }

ENGINES=${GRADER_ENGINES_DIR:-/opt/grader-engines}
E26=$ENGINES/26
E26_PACKAGES=(docker.io containerd tini)

server_version() { timeout 10 docker version -f '{{.Server.Version}}' 2>/dev/null; }

stop_daemon() {
  pgrep -x dockerd >/dev/null || return 0
  log "stopping dockerd $(server_version || echo '(not answering)')"
  pkill -TERM -x dockerd
  for _ in $(seq 1 90); do pgrep -x dockerd >/dev/null || break; sleep 1; done
  pgrep -x dockerd >/dev/null && die "dockerd did not stop within 90 s."
  # Its managed containerd goes with it; wait so that the next one does not meet its socket.
  for _ in $(seq 1 30); do pgrep -f 'containerd --config /var/run/docker' >/dev/null || break; sleep 1; done
  return 0
}

wait_for_daemon() {
  local logfile=$1
  for _ in $(seq 1 90); do
    server_version >/dev/null && return 0
    sleep 1
  done
  die "dockerd did not answer within 90 s: see $logfile."
}

fetch_26() {
  [ -x "$E26/usr/sbin/dockerd" ] && return 0
  command -v apt-get >/dev/null || die "apt-get is missing: Engine 26 is fetched from Debian trixie with apt."
  log "fetching Engine 26 (Debian trixie: ${E26_PACKAGES[*]}) into $E26"
  local apt=$ENGINES/apt-trixie
  mkdir -p "$apt"/etc/{sources.list.d,preferences.d,apt.conf.d} "$apt"/lists/partial "$apt"/cache/archives/partial "$apt"/debs
  echo 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main' \
    >"$apt/etc/sources.list"
  local opts=(-o "Dir::Etc=$apt/etc" -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache"
    -o Dir::State::status=/dev/null -o Debug::NoLocking=1 -o APT::Sandbox::User=root -qq)
  apt-get "${opts[@]}" update >/dev/null || die "apt-get could not read Debian trixie's package lists."
  (cd "$apt/debs" && apt-get "${opts[@]}" download "${E26_PACKAGES[@]}" >/dev/null) \
    || die "apt-get could not download ${E26_PACKAGES[*]} from Debian trixie."
  rm -rf "$E26.tmp" && mkdir -p "$E26.tmp"
  for deb in "$apt"/debs/*.deb; do dpkg-deb -x "$deb" "$E26.tmp"; done
  rm -rf "$E26" && mv "$E26.tmp" "$E26"
}

start_26() {
  [ "$(id -u)" = 0 ] || die "switching engines needs root."
  fetch_26
  # bookworm's runc (Debian's docker.io 20.10 depends on it); trixie's needs glibc 2.38.
  command -v runc >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq runc >/dev/null; }
  if [[ "$(server_version || true)" == 26.* ]]; then return 0; fi
  stop_daemon
  log "starting Engine 26 (data: /var/lib/docker-26, log: /var/log/dockerd-26.log)"
  rm -f /var/run/docker-26.pid
  PATH="$E26/usr/bin:$E26/usr/sbin:$E26/usr/libexec/docker:$PATH" nohup setsid dockerd \
    --data-root /var/lib/docker-26 --exec-root /var/run/docker-26 --pidfile /var/run/docker-26.pid \
    --default-address-pool base=172.16.0.0/12,size=24 \
    >>/var/log/dockerd-26.log 2>&1 </dev/null &
  wait_for_daemon /var/log/dockerd-26.log
}

start_20() {
  [ "$(id -u)" = 0 ] || die "switching engines needs root."
  if [[ "$(server_version || true)" == 20.10.* ]]; then return 0; fi
  stop_daemon
  bash "$here/ensure-docker.sh" >/dev/null
}

case "${1:-}" in
  26) start_26 ;;
  20.10) start_20 ;;
  status) ;;
  *) die "usage: scripts/engine.sh 26|20.10|status" ;;
esac
log "engine: $(server_version || echo 'none answers')"
