#!/bin/sh
# MariaDB for the lab: on first start (empty data volume) set the root password from the
# secret file and load /docker-entrypoint-initdb.d/*.sql; then run the server.
set -eu
password_file=${MARIADB_ROOT_PASSWORD_FILE:-/run/secrets/db_password}
datadir=/var/lib/mysql

if [ ! -d "$datadir/mysql" ]; then
  [ -r "$password_file" ] || { echo "entrypoint: secret $password_file is missing" >&2; exit 1; }
  echo "entrypoint: initialising $datadir"
  mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db --auth-root-authentication-method=normal >/dev/null
  mariadbd --user=mysql --datadir="$datadir" --skip-networking --socket=/tmp/init.sock &
  pid=$!
  i=0
  until mariadb --socket=/tmp/init.sock -e 'SELECT 1' >/dev/null 2>&1; do
    i=$((i + 1)); [ "$i" -lt 60 ] || { echo "entrypoint: server did not start" >&2; exit 1; }
    sleep 1
  done
  for f in /docker-entrypoint-initdb.d/*.sql; do
    [ -e "$f" ] || continue
    echo "entrypoint: loading $f"
    mariadb --socket=/tmp/init.sock --default-character-set=utf8mb4 < "$f"
  done
  # The password reaches the server through stdin only: never a command-line argument or an
  # environment variable (both show in `docker inspect` or `ps`).
  quoted=$(sed "s/'/''/g" "$password_file" | tr -d '\n')
  mariadb --socket=/tmp/init.sock <<SQL
ALTER USER 'root'@'localhost' IDENTIFIED BY '$quoted';
CREATE USER 'root'@'%' IDENTIFIED BY '$quoted';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;
FLUSH PRIVILEGES;
SQL
  kill "$pid"
  wait "$pid" || true
  unset quoted
fi
exec mariadbd --user=mysql --datadir="$datadir" --bind-address=0.0.0.0 \
  --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci
