#!/usr/bin/env bash
# Entry point of advwell/postgres:15-lab, with the official `postgres` image's contract:
#   POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) required unless
#   POSTGRES_HOST_AUTH_METHOD=trust; POSTGRES_USER (postgres), POSTGRES_DB (= user),
#   POSTGRES_INITDB_ARGS, POSTGRES_INITDB_WALDIR, PGDATA; on an empty data
#   directory: initdb, create the database, run /docker-entrypoint-initdb.d/*.sql,
#   *.sql.gz and *.sh. Arguments starting with "-" are options for `postgres`.
#   The server is exec'd as the postgres user and so is PID 1 and gets the signals.
set -Eeuo pipefail

INITDB_DIR=/docker-entrypoint-initdb.d
SOCKET_DIR=/var/run/postgresql

note() { echo "entrypoint: $*" >&2; }
fail() { note "error: $*"; exit 1; }

# VAR, or the content of the file that VAR_FILE names (a Docker secret); not both.
file_env() {
    local var=$1 default=${2:-} file_var="${1}_FILE"
    if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
        fail "both $var and $file_var are set, use one"
    fi
    local value=$default
    if [ -n "${!var:-}" ]; then
        value=${!var}
    elif [ -n "${!file_var:-}" ]; then
        value=$(< "${!file_var}")
    fi
    export "$var=$value"
    unset "$file_var"
}

load_settings() {
    file_env POSTGRES_USER postgres
    file_env POSTGRES_PASSWORD
    file_env POSTGRES_DB "$POSTGRES_USER"
    file_env POSTGRES_INITDB_ARGS
    export POSTGRES_HOST_AUTH_METHOD=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
}

# `postgres --help`, `postgres -C setting` and the like need no cluster.
asks_for_information_only() {
    local arg
    for arg in "$@"; do
        case "$arg" in
            -'?' | --help | -V | --version | -C | --describe-config) return 0 ;;
        esac
    done
    return 1
}

prepare_directories() {
    mkdir -p "$PGDATA" "$SOCKET_DIR"
    if [ "$(id -u)" = 0 ]; then
        # Only files that are not postgres's yet: a big data directory is left as it is.
        find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
        chown postgres:postgres "$SOCKET_DIR"
        chmod 2775 "$SOCKET_DIR"
        if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then
            mkdir -p "$POSTGRES_INITDB_WALDIR"
            find "$POSTGRES_INITDB_WALDIR" \! -user postgres -exec chown postgres:postgres '{}' +
        fi
    fi
    chmod 700 "$PGDATA" 2>/dev/null || :
}

require_password() {
    if [ -n "$POSTGRES_PASSWORD" ] || [ "$POSTGRES_HOST_AUTH_METHOD" = trust ]; then
        return
    fi
    fail "the database is uninitialized and POSTGRES_PASSWORD is not set.
  Set POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) to a non-empty value for the
  superuser, or POSTGRES_HOST_AUTH_METHOD=trust to allow all connections without a
  password (never do that outside a throwaway lab)."
}

run_initdb() {
    local args=(--username="$POSTGRES_USER" --auth-local=trust
                --auth-host="$POSTGRES_HOST_AUTH_METHOD")
    if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then
        args+=(--waldir="$POSTGRES_INITDB_WALDIR")
    fi
    local extra=()
    read -r -a extra <<< "$POSTGRES_INITDB_ARGS"
    if [ -n "$POSTGRES_PASSWORD" ]; then
        initdb "${args[@]}" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") "${extra[@]}"
    else
        initdb "${args[@]}" "${extra[@]}"
    fi
    printf "\nlisten_addresses = '*'\n" >> "$PGDATA/postgresql.conf"
    printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >> "$PGDATA/pg_hba.conf"
    if [ "$POSTGRES_HOST_AUTH_METHOD" = trust ]; then
        note "WARNING: POSTGRES_HOST_AUTH_METHOD=trust: anyone who reaches the port gets in"
    fi
}

# psql over the local socket, where initdb made authentication "trust".
psql_local() {
    PGHOST='' PGHOSTADDR='' psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password \
        --username "$POSTGRES_USER" "$@"
}

create_database() {
    if [ "$POSTGRES_DB" = postgres ]; then
        return
    fi
    psql_local --dbname postgres --set db="$POSTGRES_DB" <<'SQL'
CREATE DATABASE :"db";
SQL
}

run_init_scripts() {
    local file
    for file in "$INITDB_DIR"/*; do
        [ -e "$file" ] || continue
        case "$file" in
            *.sh)
                if [ -x "$file" ]; then
                    note "running $file"
                    "$file"
                else
                    note "sourcing $file"
                    # shellcheck disable=SC1090
                    . "$file"
                fi
                ;;
            *.sql)
                note "running $file"
                psql_local --dbname "$POSTGRES_DB" -f "$file"
                ;;
            *.sql.gz)
                note "running $file"
                gunzip -c "$file" | psql_local --dbname "$POSTGRES_DB"
                ;;
            *) note "ignoring $file" ;;
        esac
    done
}

initialise_cluster() {
    require_password
    run_initdb
    # A socket-only server while the database and init scripts are set up.
    pg_ctl -D "$PGDATA" -w -t 60 \
        -o "-c listen_addresses='' -c port=${PGPORT:-5432}" start
    create_database
    run_init_scripts
    pg_ctl -D "$PGDATA" -m fast -w stop
    note "PostgreSQL init process complete; ready for start up."
}

main() {
    if [ "${1:-}" = "" ] || [ "${1:0:1}" = '-' ]; then
        set -- postgres "$@"
    fi
    if [ "$1" != postgres ] || asks_for_information_only "$@"; then
        exec "$@"
    fi
    load_settings
    prepare_directories
    if [ "$(id -u)" = 0 ]; then
        # Run this script again as postgres; it ends by exec'ing the server.
        export HOME=/var/lib/postgresql
        exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
    fi
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
        initialise_cluster
    fi
    # The server needs no password from its environment; don't hand it one.
    unset POSTGRES_PASSWORD
    exec "$@"
}

main "$@"
