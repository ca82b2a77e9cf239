#!/bin/bash
# healthcheck.sh of the mariadb stand-in, with the official image's command line:
#   healthcheck.sh [--su-mysql | --su=USER] [--datadir=DIR] [--no-defaults]
#                  [--defaults-file=F] [--defaults-extra-file=F] [--defaults-group-suffix=S]
#                  --TEST...   (tests run in order; the first failing one fails the check)
# Tests: connect (a TCP connection is accepted, whatever the authentication says),
# innodb_initialized, innodb_buffer_pool_loaded, galera_online, mariadbupgrade; replication is
# not offered by this stand-in (a single server) and fails.
# Credentials come from DATADIR/.my-healthcheck.cnf, written by the entrypoint at initialisation.
set -eo pipefail

datadir=/var/lib/mysql
no_defaults=
defaults_file=
defaults_extra_file=
defaults_group_suffix=

client() {
	local options=()
	if [ -n "$no_defaults" ]; then
		options+=(--no-defaults)
	else
		[ -n "$defaults_file" ] && options+=(--defaults-file="$defaults_file")
		local extra=$defaults_extra_file
		if [ -z "$extra" ] && [ -f "$datadir/.my-healthcheck.cnf" ]; then extra=$datadir/.my-healthcheck.cnf; fi
		[ -n "$extra" ] && options+=(--defaults-extra-file="$extra")
		[ -n "$defaults_group_suffix" ] && options+=(--defaults-group-suffix="$defaults_group_suffix")
	fi
	mariadb "${options[@]}" "$@"
}

query() {
	client -B --skip-column-names -e "$1"
}

connect() {
	local output
	# Only "cannot connect" fails: an access-denied answer still proves the server listens.
	output=$(client -h localhost --protocol tcp -e 'SELECT 1' 2>&1) && return 0
	! grep -qF "Can't connect" <<<"$output"
}

innodb_initialized() {
	[ "$(query "SELECT 1 FROM information_schema.ENGINES WHERE engine = 'innodb' AND support IN ('YES', 'DEFAULT', 'ENABLED')")" = 1 ]
}

innodb_buffer_pool_loaded() {
	[[ "$(query "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'Innodb_buffer_pool_load_status'")" =~ 'load completed' ]]
}

galera_online() {
	[ "$(query "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'WSREP_LOCAL_STATE'")" = 4 ]
}

mariadbupgrade() {
	local f="$datadir/mysql_upgrade_info"
	[ -r "$f" ] || return 0
	flock --exclusive --nonblock 9 9<"$f"
}

replication() {
	echo "healthcheck: replication is not available in this stand-in" >&2
	return 1
}

switch_user() {
	exec setpriv --reuid="$1" --regid="$(id -g "$1")" --init-groups "${BASH_SOURCE[0]}" "${@:2}"
}

if [ $# -eq 0 ]; then
	echo "At least one argument required" >&2
	exit 1
fi

while [ $# -gt 0 ]; do
	test=
	case "$1" in
		--su=*) switch_user "${1#*=}" "${@:2}" ;;
		--su)
			switch_user "$2" "${@:3}"
			;;
		--su-mysql) switch_user mysql "${@:2}" ;;
		--datadir=*) datadir=${1#*=} ;;
		--datadir)
			shift
			datadir=$1
			;;
		--no-defaults) no_defaults=1 ;;
		--defaults-file=*) defaults_file=${1#*=} no_defaults= ;;
		--defaults-extra-file=*) defaults_extra_file=${1#*=} no_defaults= ;;
		--defaults-group-suffix=*) defaults_group_suffix=${1#*=} no_defaults= ;;
		--replication_*) ;; # settings of the replication test, which this stand-in does not offer
		--replication) test=replication ;;
		--*) test=${1#--} ;;
		*)
			echo "Unknown healthcheck option $1" >&2
			exit 1
			;;
	esac
	if [ -n "$test" ]; then
		case "$test" in
			connect | innodb_initialized | innodb_buffer_pool_loaded | galera_online | mariadbupgrade | replication) ;;
			*)
				echo "healthcheck unknown option or test '$test'" >&2
				exit 1
				;;
		esac
		if ! "$test"; then
			echo "healthcheck $test failed" >&2
			exit 1
		fi
	fi
	shift
done
