#!/usr/bin/env bash
# The raw-docker baseline: the work the grader does to grade reference/cours2, done by hand with
# the docker CLI, Docker Compose and curl, in the same order. bench/run times it against
# `grader check reference/cours2 --assignment cours2 --all`. Only 127.0.0.1 is ever contacted.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ref=${BENCH_REFERENCE:-"$here/../reference/cours2"}  # bench/run gives a copy for its cold runs
compose=${GRADER_COMPOSE:-docker compose}
work=$(mktemp -d /tmp/bench-baseline.XXXXXX)
p="bench$$"
cleanup() {
  for proj in "$p-siteweb" "$p-live" "$p-ctx" "$p-compteur" "$p-etudiants"; do
    $compose -p "$proj" down -v --remove-orphans --timeout 5 >/dev/null 2>&1 || true
  done
  docker network rm "$p-dehors" "$p-net" >/dev/null 2>&1 || true
  docker rmi -f "$p-siteweb-siteweb" "$p-ctx-contexte" "$p-compteur-compteur" "$p-etudiants-db" "$p-etudiants-api" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
cp -r "$ref" "$work/sub"
s="$work/sub"
pw="g$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"

wait_http() {  # wait_http URL: poll until anything answers
  for _ in $(seq 1 200); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "no answer from $1" >&2; return 1
}
port_of() { $compose -p "$1" port "$2" "$3" | cut -d: -f2; }

# Like the grader, the projects made from a single Dockerfile share one network.
docker network create "$p-net" >/dev/null
net="networks: {default: {name: $p-net, external: true}}"

# --- siteweb: build, serve, bind mount, .dockerignore, size
cat > "$work/siteweb.yaml" <<YAML
services:
  siteweb:
    build: {context: $s/siteweb}
    image: $p-siteweb-siteweb
    ports: ["127.0.0.1::80"]
$net
YAML
$compose -p "$p-siteweb" -f "$work/siteweb.yaml" build -q
$compose -p "$p-siteweb" -f "$work/siteweb.yaml" up -d --quiet-pull >/dev/null 2>&1
port=$(port_of "$p-siteweb" siteweb 80)
wait_http "http://127.0.0.1:$port/"
curl -s "http://127.0.0.1:$port/" | cmp -s - "$s/siteweb/files/index.html"
mkdir "$work/live" && echo "<p>version 1</p>" > "$work/live/index.html"
cat > "$work/live.yaml" <<YAML
services:
  web:
    image: $p-siteweb-siteweb
    ports: ["127.0.0.1::80"]
    volumes: [{type: bind, source: $work/live, target: /usr/share/nginx/html}]
$net
YAML
$compose -p "$p-live" -f "$work/live.yaml" up -d >/dev/null 2>&1
port=$(port_of "$p-live" web 80)
wait_http "http://127.0.0.1:$port/"
curl -s "http://127.0.0.1:$port/" >/dev/null
echo "<p>version 2</p>" > "$work/live/index.html"
curl -s "http://127.0.0.1:$port/" | grep -q "version 2"
$compose -p "$p-live" -f "$work/live.yaml" down -v --timeout 5 >/dev/null 2>&1
cp -r "$s/siteweb" "$work/ctx" && echo x > "$work/ctx/brouillon.tmp" && mkdir -p "$work/ctx/.git"
cat > "$work/ctx.yaml" <<YAML
services:
  contexte:
    image: $p-ctx-contexte
    build: {context: $work/ctx, dockerfile_inline: "FROM debian:bookworm-slim\nCOPY . /contexte/\n"}
YAML
$compose -p "$p-ctx" -f "$work/ctx.yaml" build -q
docker run --rm --network none "$p-ctx-contexte" find /contexte -mindepth 1 >/dev/null
docker image inspect -f '{{.Size}}' "$p-siteweb-siteweb" >/dev/null
$compose -p "$p-siteweb" -f "$work/siteweb.yaml" down -v --timeout 5 >/dev/null 2>&1

# --- compteur: build, API, named volume
cat > "$work/compteur.yaml" <<YAML
services:
  compteur:
    build: {context: $s/compteur}
    image: $p-compteur-compteur
    ports: ["127.0.0.1::8080"]
    volumes: ["data:/data"]
volumes:
  data: {}
$net
YAML
c() { $compose -p "$p-compteur" -f "$work/compteur.yaml" "$@"; }
c build -q
up_compteur() { c up -d >/dev/null 2>&1; cport=$(port_of "$p-compteur" compteur 8080); wait_http "http://127.0.0.1:$cport/compteur"; }
up_compteur
curl -s "http://127.0.0.1:$cport/compteur" >/dev/null
curl -s -X POST "http://127.0.0.1:$cport/compteur" >/dev/null
curl -s "http://127.0.0.1:$cport/compteur" >/dev/null
# The volume check goes on from the count the API check left (1), as the grader does.
curl -s "http://127.0.0.1:$cport/compteur" >/dev/null
for _ in 1 2 3; do curl -s -X POST "http://127.0.0.1:$cport/compteur" >/dev/null; done
c rm --stop --force compteur >/dev/null 2>&1; up_compteur
curl -s "http://127.0.0.1:$cport/compteur" | grep -q '"etudiants":4'
# A fresh volume, keeping the network: remove the container and its volume, start again.
c rm --stop --force -v compteur >/dev/null 2>&1; docker volume rm "$p-compteur_data" >/dev/null; up_compteur
curl -s "http://127.0.0.1:$cport/compteur" | grep -q '"etudiants":0'
c down -v --timeout 5 >/dev/null 2>&1

# --- etudiants: config, build, up, alias, secret, leaks, JSON, multi-stage, cache, memory, volume, down
e() { $compose -p "$p-etudiants" -f "$s/etudiants/compose.yaml" "$@"; }
student_pw=$(cat "$s/etudiants/secrets/db_password.txt")
echo "$pw" > "$s/etudiants/secrets/db_password.txt"
e config --format json >/dev/null
e build -q
e up -d --wait >/dev/null 2>&1
aport=$(port_of "$p-etudiants" api 8080)
wait_http "http://127.0.0.1:$aport/etudiants"
docker run --rm --dns 127.0.0.1 --dns-opt timeout:1 --dns-opt attempts:1 --network cours2 debian:bookworm-slim getent hosts mysql >/dev/null
docker network create --internal "$p-dehors" >/dev/null
! docker run --rm --dns 127.0.0.1 --dns-opt timeout:1 --dns-opt attempts:1 --network "$p-dehors" debian:bookworm-slim getent hosts mysql >/dev/null
docker network rm "$p-dehors" >/dev/null
for svc in db api; do docker inspect -f '{{range .Mounts}}{{.Destination}} {{end}}' "$(e ps -q "$svc")" | grep -q /run/secrets/db_password; done
for svc in db api; do ! docker inspect -f '{{.Config.Env}}' "$(e ps -q "$svc")" | grep -q -e "$pw" -e "$student_pw"; done
for img in "$p-etudiants-db" "$p-etudiants-api"; do
  ! docker image inspect -f '{{.Config.Env}} {{.Config.Labels}}' "$img" | grep -q -e "$pw" -e "$student_pw"
  ! docker history --no-trunc "$img" | grep -q -e "$pw" -e "$student_pw"
  ! docker save "$img" | grep -a -q -e "$pw" -e "$student_pw"
done
curl -s "http://127.0.0.1:$aport/etudiants" | grep -q "Élodie"
sql() { docker exec "$(e ps -q db)" sh -c '$(command -v mariadb || command -v mysql) -uroot -p"$(cat /run/secrets/db_password)" --default-character-set=utf8mb4 -N -B cours2 -e "$1"' sql "$1"; }
sql "INSERT INTO etudiants (id, nom, prenom) VALUES (9001, 'Québec-Test', 'Éloïse')"
curl -s "http://127.0.0.1:$aport/etudiants" | grep -q "Éloïse"
! docker save "$p-etudiants-api" | tar -t | grep -q -E '(^|/)bin/go$'
docker image inspect -f '{{.Size}}' "$p-etudiants-api" >/dev/null
echo "// $(date +%s%N)" >> "$s/etudiants/api/main.go"
# Rebuild until the compile step runs (every step before it is settled), give the log 1.5 s to
# settle, then stop. (The grader reads BuildKit's log as it comes and stops as soon as every
# dependency step is known: the same build, stopped earlier.)
BUILDKIT_PROGRESS=plain e build api >"$work/rebuild.log" 2>&1 &
build=$!
until grep -q "go build" "$work/rebuild.log" || ! kill -0 "$build" 2>/dev/null; do sleep 0.1; done
sleep 1.5
pkill -TERM -f -- "-p $p-etudiants -f .* build api" || true  # the docker front end and its plugin
wait "$build" 2>/dev/null || true
docker inspect -f '{{.HostConfig.Memory}}' "$(e ps -q api)" >/dev/null
sql "INSERT INTO etudiants (id, nom, prenom) VALUES (8001, 'Persistance', 'Hélène')"
e down --timeout 5 >/dev/null 2>&1
e up -d --wait >/dev/null 2>&1
[ "$(sql 'SELECT COUNT(*) FROM etudiants WHERE id = 8001' | tr -d '[:space:]')" = 1 ]
e down --timeout 5 >/dev/null 2>&1
[ -z "$(docker ps -aq --filter label=com.docker.compose.project=$p-etudiants)" ]

# --- lint
hadolint=${HADOLINT:-hadolint}
"$hadolint" -f json --no-fail "$s/siteweb/Dockerfile" "$s/compteur/Dockerfile" "$s/etudiants/api/Dockerfile" "$s/etudiants/db/Dockerfile" >/dev/null
echo "baseline: ok"
