#!/bin/sh
# Runs /docker-entrypoint.d/*.sh (executable ones) and sources *.envsh before starting nginx,
# as the official image does; NGINX_ENTRYPOINT_QUIET_LOGS silences its messages.
set -e

say() {
    if [ -z "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ]; then
        echo "$0: $*"
    fi
}

if [ "$1" = "nginx" ] || [ "$1" = "nginx-debug" ]; then
    if find /docker-entrypoint.d/ -mindepth 1 -maxdepth 1 -type f -print -quit 2>/dev/null | read -r _; then
        say "/docker-entrypoint.d/ is not empty, will attempt to perform configuration"
        for script in $(find /docker-entrypoint.d/ -follow -type f -print | sort -V); do
            case "$script" in
                *.envsh)
                    if [ -x "$script" ]; then
                        say "Sourcing $script"
                        # shellcheck disable=SC1090
                        . "$script"
                    else
                        say "Ignoring $script, not executable"
                    fi
                    ;;
                *.sh)
                    if [ -x "$script" ]; then
                        say "Launching $script"
                        "$script"
                    else
                        say "Ignoring $script, not executable"
                    fi
                    ;;
                *) say "Ignoring $script" ;;
            esac
        done
        say "Configuration complete; ready for start up"
    else
        say "No files found in /docker-entrypoint.d/, skipping configuration"
    fi
fi

exec "$@"
