#!/usr/bin/env bash
# Makes the official images that the course names (nginx, mysql, mariadb, golang, python) usable
# on this engine. For each tag: an image already present is left as it is; otherwise it is pulled;
# only when the pull fails is an offline stand-in built from debian:bookworm-slim and Debian's
# packages (images/standins/), and that is said loudly on stderr. A stand-in carries the label
# grader.standin=<the tag it stands in for>. Idempotent: a second run only inspects.
#
# Usage: scripts/standins.sh [--rebuild] [--list] [IMAGE...]
#   IMAGE      a tag of the table below (mysql:8) or a name (mysql: all of its tags); default: all
#   --rebuild  rebuild the tags that are stand-ins already (after a change in images/standins/);
#              an image that is not a stand-in is never replaced
#   --list     print the tags this script knows, one a line, and exit
# Environment: STANDINS_PULL_TIMEOUT (seconds, default 60) bounds each pull.
set -euo pipefail
cd "$(dirname "$0")/.."

# tag|folder under images/standins|docker build options
TABLE=(
  "nginx:latest|nginx|"
  "nginx:1.25|nginx|"
  "mysql:8|mariadb|--target mysql"
  "mysql:8.0|mariadb|--target mysql"
  "mysql:latest|mariadb|--target mysql"
  "mariadb:latest|mariadb|--target mariadb --build-arg MYSQL_COMMANDS=no"
  "mariadb:11|mariadb|--target mariadb --build-arg MYSQL_COMMANDS=no"
  "mariadb:10.11|mariadb|--target mariadb --build-arg MYSQL_COMMANDS=yes"
  "golang:1.19|golang|"
  "golang:1.19-bookworm|golang|"
  "python:3.11-slim|python|"
  "python:3.11|python|"
)
BASE=debian:bookworm-slim
pull_timeout=${STANDINS_PULL_TIMEOUT:-60}

log() { printf '[standins] %s\n' "$*" >&2; }
die() {
  printf '[standins] ERROR: %s\n' "$*" >&2
  exit 1
}

banner() {
  local tag=$1 why=$2 line
  line=$(printf '%.0s#' {1..78})
  {
    echo "$line"
    echo "# STAND-IN: $tag could not be pulled ($why)."
    echo "# Built an OFFLINE STAND-IN from $BASE and Debian's packages instead."
    echo "# It keeps the official image's documented interface but is NOT the official"
    echo "# image (label grader.standin=$tag). See docs/standins.md."
    echo "$line"
  } >&2
}

# The tag this image stands in for, or nothing when it is not a stand-in (an image built FROM a
# stand-in inherits the label, with the parent's tag: only an exact match counts).
standin_of() {
  local label
  label=$(docker image inspect -f '{{with .Config.Labels}}{{index . "grader.standin"}}{{end}}' "$1" 2>/dev/null) || return 0
  [ "$label" = "$1" ] && printf '%s' "$label"
  return 0
}

build() {
  local tag=$1 folder=$2 options=$3 build_log
  docker image inspect "$BASE" >/dev/null 2>&1 \
    || die "$BASE is missing: run scripts/ensure-docker.sh first (it builds it offline if needed)."
  build_log=$(mktemp /tmp/standin-build.XXXXXX)
  local started=$SECONDS
  # The classic builder: it needs no buildx plugin and fetches no frontend image.
  # shellcheck disable=SC2086
  if ! DOCKER_BUILDKIT=0 docker build $options --build-arg "STANDIN_REF=$tag" -t "$tag" \
    "images/standins/$folder" >"$build_log" 2>&1; then
    tail -n 40 "$build_log" >&2
    die "building the stand-in for $tag failed (full log: $build_log)."
  fi
  rm -f "$build_log"
  log "$tag: stand-in built in $((SECONDS - started)) s"
}

rebuild=0
wanted=()
for arg; do
  case "$arg" in
    --rebuild) rebuild=1 ;;
    --list)
      for row in "${TABLE[@]}"; do echo "${row%%|*}"; done
      exit 0
      ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    -*) die "unknown option $arg (see --help)." ;;
    *) wanted+=("$arg") ;;
  esac
done

rows=()
if [ ${#wanted[@]} -eq 0 ]; then
  rows=("${TABLE[@]}")
else
  for name in "${wanted[@]}"; do
    found=0
    for row in "${TABLE[@]}"; do
      tag=${row%%|*}
      if [ "$tag" = "$name" ] || [ "${tag%%:*}" = "$name" ]; then
        rows+=("$row")
        found=1
      fi
    done
    [ "$found" = 1 ] || die "no stand-in for $name; known: $(for row in "${TABLE[@]}"; do printf '%s ' "${row%%|*}"; done)"
  done
fi

timeout 10 docker info >/dev/null 2>&1 || die "no Docker engine answers: run scripts/ensure-docker.sh first."

built=0
for row in "${rows[@]}"; do
  IFS='|' read -r tag folder options <<<"$row"
  if docker image inspect "$tag" >/dev/null 2>&1; then
    if [ -z "$(standin_of "$tag")" ]; then
      log "$tag: present"
      continue
    fi
    if [ "$rebuild" = 0 ]; then
      log "$tag: present, an offline stand-in (not the official image)"
      continue
    fi
    log "$tag: rebuilding the offline stand-in"
    previous=$(docker image inspect -f '{{.Id}}' "$tag")
    build "$tag" "$folder" "$options"
    built=1
    # The replaced stand-in, now untagged; kept when a container still uses it.
    if [ "$(docker image inspect -f '{{.Id}}' "$tag")" != "$previous" ]; then
      docker rmi "$previous" >/dev/null 2>&1 || true
    fi
    continue
  fi
  if pull_error=$(timeout "$pull_timeout" docker pull -q "$tag" 2>&1 >/dev/null); then
    log "$tag: pulled"
    continue
  fi
  [ -n "$pull_error" ] || pull_error="no answer within $pull_timeout s"
  banner "$tag" "$(printf '%s' "$pull_error" | head -n 1 | cut -c1-120)"
  build "$tag" "$folder" "$options"
  built=1
done

if [ "$built" = 1 ]; then
  # The golang recipe's first stage (the module proxy's workshop) is left untagged by the classic
  # builder; it carries its own label, never inherited by any image, and is removed here.
  stale=$(docker images -q --filter dangling=true --filter label=grader.standin.stage=golang-goproxy)
  if [ -n "$stale" ]; then
    # shellcheck disable=SC2086
    docker rmi $stale >/dev/null 2>&1 || true
  fi
fi
