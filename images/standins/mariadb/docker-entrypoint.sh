#!/bin/bash
# Entrypoint of the mysql and mariadb stand-ins: the official images' documented interface on
# Debian's MariaDB. On an empty data directory it creates the system tables, starts a temporary
# server reachable only through its socket (--skip-networking), sets the root password, creates
# the database and the user, runs /docker-entrypoint-initdb.d/* in alphabetical order, and stops
# the temporary server; then the real server runs in the foreground as the mysql user. A data
# directory that already holds a database is never touched.
set -eo pipefail
shopt -s nullglob

flavor=$(cat /usr/local/share/standin-flavor 2>/dev/null || echo mariadb)
if [ "$flavor" = mysql ]; then product=MySQL; prefix=MYSQL; else product=MariaDB; prefix=MARIADB; fi

_log() {
	local level=$1
	shift
	printf '%s [%s] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$level" "$*"
}
mysql_note() { _log Note "$@"; }
mysql_warn() { _log Warn "$@" >&2; }
mysql_error() {
	_log ERROR "$@" >&2
	exit 1
}

# file_env VAR: VAR or the content of the file named by VAR_FILE (never both).
file_env() {
	local var=$1 file_var="${1}_FILE" value=
	if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
		mysql_error "Both $var and $file_var are set (but are exclusive)"
	fi
	if [ -n "${!var:-}" ]; then
		value=${!var}
	elif [ -n "${!file_var:-}" ]; then
		[ -r "${!file_var}" ] || mysql_error "$file_var names ${!file_var}, which cannot be read"
		value=$(<"${!file_var}")
	fi
	printf -v "$var" '%s' "$value"
	export "${var?}"
	unset "$file_var"
}

# setting RESULT NAME [MYSQL_NAME]: sets RESULT to MYSQL_NAME for the mysql flavour; for mariadb
# to MARIADB_NAME, or else MYSQL_NAME (the older spelling the official image still accepts).
# Both variables stay exported with their values, so that init scripts can use them.
setting() {
	local result=$1 name=$2 mysql_name=${3:-MYSQL_$2}
	file_env "$mysql_name"
	local value=${!mysql_name}
	if [ "$flavor" = mariadb ]; then
		local mariadb_name="MARIADB_$name"
		file_env "$mariadb_name"
		if [ -n "${!mariadb_name}" ]; then
			value=${!mariadb_name}
		else
			printf -v "$mariadb_name" '%s' "$value"
		fi
	fi
	printf -v "$result" '%s' "$value"
}

want_help() {
	local arg
	for arg; do
		case "$arg" in
			-'?' | --help | --print-defaults | -V | --version) return 0 ;;
		esac
	done
	return 1
}

# Server options that only MySQL knows would stop MariaDB at start: students copy them from
# MySQL 8 tutorials (command: --default-authentication-plugin=mysql_native_password).
mysql_only_options() {
	local arg name
	server_args=()
	for arg; do
		name=${arg#--}
		name=${name%%=*}
		name=${name//_/-}
		case "$arg" in
			--*)
				case "$name" in
					default-authentication-plugin | authentication-policy | mysqlx | mysqlx-* | skip-mysqlx | \
						mysql-native-password | log-error-verbosity | innodb-dedicated-server)
						mysql_warn "$arg is a MySQL-only option: ignored by this MariaDB stand-in"
						arg="--loose-${arg#--}"
						;;
					collation-server)
						if [ "${arg#*=}" = utf8mb4_0900_ai_ci ]; then
							mysql_warn "MariaDB 10.11 has no utf8mb4_0900_ai_ci: using utf8mb4_unicode_520_ci"
							arg=--collation-server=utf8mb4_unicode_520_ci
						fi
						;;
				esac
				;;
		esac
		server_args+=("$arg")
	done
}

# get_config NAME SERVER [ARGS...]: the server's effective value of option NAME.
get_config() {
	local conf=$1
	shift
	"$@" --verbose --help 2>/dev/null | awk -v conf="$conf" '$1 == conf && /^[^ \t]/ { sub(/^[^ \t]+[ \t]+/, ""); print; exit }'
}

check_config() {
	local output
	if ! output=$("$@" --verbose --help 2>&1 >/dev/null); then
		mysql_error "$(printf 'the server failed while checking its configuration\n\tcommand was: %s\n\t%s' "$*" "$output")"
	fi
}

docker_process_sql() {
	local password=$ROOT_PASSWORD
	if [ "$1" = --dont-use-mysql-root-password ]; then
		password=
		shift
	fi
	local database=()
	if [ -n "$DATABASE" ]; then database=(--database="$DATABASE"); fi
	# The password travels in the client's environment, never on a command line (ps shows those).
	MYSQL_PWD=$password mariadb --protocol=socket --socket="$SOCKET" -uroot -hlocalhost --comments \
		"${database[@]}" "$@"
}

sql_escape_string_literal() {
	local value=${1//\\/\\\\}
	printf '%s' "${value//\'/\\\'}"
}

sql_escape_identifier() {
	printf '%s' "${1//\`/\`\`}"
}

temp_server_start() {
	"$@" --skip-networking --default-time-zone=SYSTEM --socket="$SOCKET" --skip-log-bin \
		--loose-innodb-buffer-pool-load-at-startup=0 --loose-innodb-buffer-pool-dump-at-shutdown=0 &
	TEMP_SERVER_PID=$!
	trap 'temp_server_stop; exit 143' TERM INT
	mysql_note "Waiting for the temporary server (pid $TEMP_SERVER_PID)"
	local _
	for _ in $(seq 150); do
		if docker_process_sql --dont-use-mysql-root-password --database=mysql <<<'SELECT 1' &>/dev/null; then
			mysql_note "Temporary server started."
			return
		fi
		kill -0 "$TEMP_SERVER_PID" 2>/dev/null || mysql_error "Unable to start the temporary server: see the lines above."
		sleep 0.2
	done
	mysql_error "Unable to start the temporary server within 30 seconds."
}

temp_server_stop() {
	trap - TERM INT
	if [ -n "${TEMP_SERVER_PID:-}" ]; then
		kill "$TEMP_SERVER_PID" 2>/dev/null || true
		wait "$TEMP_SERVER_PID" || true
		TEMP_SERVER_PID=
	fi
}

verify_minimum_env() {
	if [ -z "$ROOT_PASSWORD" ] && [ -z "$ROOT_PASSWORD_HASH" ] && [ -z "$ALLOW_EMPTY" ] && [ -z "$RANDOM_ROOT" ]; then
		if [ "$flavor" = mysql ]; then
			mysql_error "$(printf 'Database is uninitialized and password option is not specified\n\tYou need to specify one of the following as an environment variable:\n\t- MYSQL_ROOT_PASSWORD\n\t- MYSQL_ALLOW_EMPTY_PASSWORD\n\t- MYSQL_RANDOM_ROOT_PASSWORD')"
		fi
		mysql_error "$(printf 'Database is uninitialized and password option is not specified\n\tYou need to specify one of MARIADB_ROOT_PASSWORD, MARIADB_ROOT_PASSWORD_HASH, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD and MARIADB_RANDOM_ROOT_PASSWORD')"
	fi
	if [ "$USER_NAME" = root ]; then
		mysql_error "$(printf '%s_USER="root", %s_USER and %s_PASSWORD are for configuring a regular user and cannot be used for the root user\n\tRemove %s_USER="root" and use one of the following to control the root user password:\n\t- %s_ROOT_PASSWORD\n\t- %s_RANDOM_ROOT_PASSWORD' "$prefix" "$prefix" "$prefix" "$prefix" "$prefix" "$prefix")"
	fi
	if [ -n "$USER_NAME" ] && [ -z "$USER_PASSWORD" ] && [ -z "$USER_PASSWORD_HASH" ]; then
		mysql_warn "${prefix}_USER is set but ${prefix}_PASSWORD is not: the user will not be created"
	fi
	if [ -z "$USER_NAME" ] && [ -n "$USER_PASSWORD$USER_PASSWORD_HASH" ]; then
		mysql_warn "${prefix}_PASSWORD is set but ${prefix}_USER is not: the password is ignored"
	fi
}

init_database_dir() {
	mysql_note "Initializing database files"
	mariadb-install-db --datadir="$DATADIR" --rpm --auth-root-authentication-method=normal --skip-test-db \
		--default-time-zone=SYSTEM --skip-log-bin --expire-logs-days=0 \
		--loose-innodb-buffer-pool-load-at-startup=0 --loose-innodb-buffer-pool-dump-at-shutdown=0 \
		"${@:2}" >/dev/null
	mysql_note "Database files initialized"
}

setup_db() {
	if [ -z "$SKIP_TZINFO" ]; then
		# Warnings about files that are not zones go to the log only.
		mariadb-tzinfo-to-sql --skip-write-binlog /usr/share/zoneinfo 2>/dev/null |
			docker_process_sql --dont-use-mysql-root-password --database=mysql
	fi
	if [ -n "$RANDOM_ROOT" ]; then
		ROOT_PASSWORD=$(head -c 18 /dev/urandom | base64)
		echo "GENERATED ROOT PASSWORD: $ROOT_PASSWORD"
	fi

	local root_auth
	root_auth="IDENTIFIED BY '$(sql_escape_string_literal "$ROOT_PASSWORD")'"
	if [ -n "$ROOT_PASSWORD_HASH" ]; then
		root_auth="IDENTIFIED BY PASSWORD '$(sql_escape_string_literal "$ROOT_PASSWORD_HASH")'"
	fi
	local root_host_sql=
	if [ "$ROOT_HOST" != localhost ]; then
		local host
		host=$(sql_escape_string_literal "$ROOT_HOST")
		root_host_sql="CREATE USER 'root'@'$host' $root_auth;
GRANT ALL ON *.* TO 'root'@'$host' WITH GRANT OPTION;
GRANT PROXY ON ''@'%' TO 'root'@'$host' WITH GRANT OPTION;"
	fi
	local healthcheck_sql=
	if [ "$flavor" = mariadb ]; then
		local healthcheck_password
		healthcheck_password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
		healthcheck_sql="CREATE USER healthcheck@'127.0.0.1' IDENTIFIED BY '$healthcheck_password';
CREATE USER healthcheck@'::1' IDENTIFIED BY '$healthcheck_password';
CREATE USER healthcheck@localhost IDENTIFIED BY '$healthcheck_password';"
		(
			umask 077
			printf '[mariadb-client]\nport=%s\nsocket=%s\nuser=healthcheck\npassword=%s\nprotocol=tcp\n' \
				"$PORT" "$SOCKET" "$healthcheck_password" >"$DATADIR/.my-healthcheck.cnf"
		)
	fi
	# The install script's anonymous and host-named accounts would shadow user@'%' for local
	# connections: keep only root@localhost and the system account, as the official images do.
	# Passwords are escaped for the backslash-escapes mode, which a user's sql_mode could disable.
	docker_process_sql --dont-use-mysql-root-password --database=mysql <<-SQL
		SET @@SESSION.SQL_LOG_BIN=0;
		SET @@SESSION.SQL_MODE=REPLACE(@@SESSION.SQL_MODE, 'NO_BACKSLASH_ESCAPES', '');
		DROP USER IF EXISTS root@'127.0.0.1', root@'::1', ''@'localhost';
		EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@\'', @@hostname, '\', \'\'@\'', @@hostname, '\'');
		ALTER USER 'root'@'localhost' $root_auth;
		$root_host_sql
		$healthcheck_sql
		DROP DATABASE IF EXISTS test;
	SQL

	if [ -n "$DATABASE" ]; then
		mysql_note "Creating database $DATABASE"
		docker_process_sql --database=mysql <<<"CREATE DATABASE IF NOT EXISTS \`$(sql_escape_identifier "$DATABASE")\`;"
	fi
	if [ -n "$USER_NAME" ] && [ -n "$USER_PASSWORD$USER_PASSWORD_HASH" ]; then
		mysql_note "Creating user $USER_NAME"
		local user user_auth
		user_auth="IDENTIFIED BY '$(sql_escape_string_literal "$USER_PASSWORD")'"
		user=$(sql_escape_string_literal "$USER_NAME")
		if [ -n "$USER_PASSWORD_HASH" ]; then
			user_auth="IDENTIFIED BY PASSWORD '$(sql_escape_string_literal "$USER_PASSWORD_HASH")'"
		fi
		docker_process_sql --database=mysql <<-SQL
			SET @@SESSION.SQL_MODE=REPLACE(@@SESSION.SQL_MODE, 'NO_BACKSLASH_ESCAPES', '');
			CREATE USER '$user'@'%' $user_auth;
		SQL
		if [ -n "$DATABASE" ]; then
			mysql_note "Giving user $USER_NAME access to schema $DATABASE"
			# In GRANT, _ and % in a database name are wildcards: escape them.
			local grant_db
			grant_db=$(sql_escape_identifier "$DATABASE")
			grant_db=${grant_db//_/\\_}
			grant_db=${grant_db//%/\\%}
			docker_process_sql --database=mysql <<<"GRANT ALL ON \`$grant_db\`.* TO '$user'@'%';"
		fi
	fi
}

process_init_files() {
	echo
	local f
	for f; do
		case "$f" in
			*.sh)
				if [ -x "$f" ]; then
					mysql_note "$0: running $f"
					"$f"
				else
					mysql_note "$0: sourcing $f"
					# shellcheck disable=SC1090
					. "$f"
				fi
				;;
			*.sql)
				mysql_note "$0: running $f"
				docker_process_sql <"$f"
				echo
				;;
			*.sql.gz)
				mysql_note "$0: running $f"
				gzip -dc "$f" | docker_process_sql
				echo
				;;
			*.sql.xz)
				mysql_note "$0: running $f"
				xz -dc "$f" | docker_process_sql
				echo
				;;
			*.sql.zst)
				mysql_note "$0: running $f"
				zstd -dc "$f" | docker_process_sql
				echo
				;;
			*) mysql_note "$0: ignoring $f" ;;
		esac
		echo
	done
}

main() {
	mysql_note "Entrypoint script for $product Server (offline stand-in, MariaDB $(mariadbd --version | awk '{print $3}')) started."
	if [ "$flavor" = mysql ]; then
		mysql_only_options "$@"
		set -- "${server_args[@]}"
	fi
	check_config "$@"
	DATADIR=$(get_config datadir "$@")
	DATADIR=${DATADIR%/}
	SOCKET=$(get_config socket "$@")
	PORT=$(get_config port "$@")

	if [ "$(id -u)" = 0 ]; then
		mkdir -p "$DATADIR" /run/mysqld
		find "$DATADIR" /run/mysqld \! -user mysql -exec chown mysql:mysql '{}' +
		mysql_note "Switching to dedicated user 'mysql'"
		exec setpriv --reuid=mysql --regid=mysql --init-groups "${BASH_SOURCE[0]}" "$@"
	fi

	if [ ! -d "$DATADIR/mysql" ]; then
		setting ROOT_PASSWORD ROOT_PASSWORD
		setting ROOT_HOST ROOT_HOST
		ROOT_HOST=${ROOT_HOST:-%}
		setting DATABASE DATABASE
		setting USER_NAME USER
		setting USER_PASSWORD PASSWORD
		setting RANDOM_ROOT RANDOM_ROOT_PASSWORD
		setting SKIP_TZINFO INITDB_SKIP_TZINFO
		setting ONETIME ONETIME_PASSWORD
		ALLOW_EMPTY='' ROOT_PASSWORD_HASH='' USER_PASSWORD_HASH=''
		if [ "$flavor" = mariadb ]; then
			setting ALLOW_EMPTY ALLOW_EMPTY_ROOT_PASSWORD MYSQL_ALLOW_EMPTY_PASSWORD
			setting ROOT_PASSWORD_HASH ROOT_PASSWORD_HASH
			setting USER_PASSWORD_HASH PASSWORD_HASH
		else
			setting ALLOW_EMPTY ALLOW_EMPTY_PASSWORD
		fi
		verify_minimum_env

		# Listed now: an unreadable directory fails before any initialisation.
		ls /docker-entrypoint-initdb.d/ >/dev/null
		init_database_dir "$@"
		temp_server_start "$@"
		setup_db
		process_init_files /docker-entrypoint-initdb.d/*
		if [ -n "$ONETIME" ]; then
			docker_process_sql --database=mysql <<<"ALTER USER 'root'@'$(sql_escape_string_literal "$ROOT_HOST")' PASSWORD EXPIRE;"
		fi
		mysql_note "Stopping the temporary server"
		temp_server_stop
		# Read from secret files, they need not live on in the server's environment.
		unset ROOT_PASSWORD USER_PASSWORD MYSQL_ROOT_PASSWORD MYSQL_PASSWORD MARIADB_ROOT_PASSWORD MARIADB_PASSWORD
		echo
		mysql_note "$product init process done. Ready for start up."
		echo
	fi
	exec "$@"
}

# Options only (docker run IMAGE --character-set-server=...): they are the server's.
if [ "${1:0:1}" = - ]; then
	if [ "$flavor" = mysql ]; then set -- mysqld "$@"; else set -- mariadbd "$@"; fi
fi

case "${1##*/}" in
	mysqld | mariadbd)
		if ! want_help "$@"; then
			main "$@"
		fi
		;;
esac
exec "$@"
