#!/usr/bin/env bash
# Copies AdvWell's database from the source server into a scratch database on the
# target. Runs in a one-shot container of the source's image (so pg_dump has the
# source's version) with the work directory mounted at /work and PGPASSFILE set.
#
#   pg-copy.sh dump      roles and a directory-format dump of the source into /work
#   pg-copy.sh restore   the roles, then the dump into the scratch database
#
# Environment: SOURCE_HOST SOURCE_PORT SOURCE_USER SOURCE_DB TARGET_HOST
# TARGET_PORT TARGET_USER SCRATCH_DB JOBS COMPRESSION, TARGET_SSLMODE and
# TARGET_SSLROOTCERT (the target is on another host: verify-full and its CA), and WORK
# (default /work).
set -euo pipefail

WORK=${WORK:-/work}

# to_target COMMAND...: a PostgreSQL tool run against the target, over its TLS.
to_target() {
    PGSSLMODE=${TARGET_SSLMODE:-verify-full} PGSSLROOTCERT=${TARGET_SSLROOTCERT:-} \
        "$@" -h "$TARGET_HOST" -p "$TARGET_PORT" -U "$TARGET_USER"
}

dump() {
    # Complete files get their final names only when pg_dump and the checks succeeded.
    rm -rf "$WORK/dump.partial" "$WORK/roles.sql.partial"
    pg_dumpall -h "$SOURCE_HOST" -p "$SOURCE_PORT" -U "$SOURCE_USER" --roles-only \
        >"$WORK/roles.sql.partial"
    pg_dump -h "$SOURCE_HOST" -p "$SOURCE_PORT" -U "$SOURCE_USER" -d "$SOURCE_DB" \
        --format=directory --jobs="$JOBS" --compress="$COMPRESSION" --file="$WORK/dump.partial"
    pg_restore --list "$WORK/dump.partial" >/dev/null
    rm -rf "$WORK/dump"
    mv "$WORK/dump.partial" "$WORK/dump"
    mv "$WORK/roles.sql.partial" "$WORK/roles.sql"
}

# The superusers are the target's own: their CREATE/ALTER lines are left out, so
# the target keeps its superuser password. Roles that exist already are altered
# to match the source; "already exists" is the only error tolerated.
restore_roles() {
    local superusers="$SOURCE_USER|$TARGET_USER"
    sed -E "/^(CREATE|ALTER) ROLE \"?($superusers)\"?( |;)/d" "$WORK/roles.sql" >"$WORK/roles.target.sql"
    to_target psql -X -q -d postgres -f "$WORK/roles.target.sql" >"$WORK/roles.log" 2>&1
    if grep ERROR "$WORK/roles.log" | grep -qv 'already exists'; then
        cat "$WORK/roles.log" >&2
        echo "pg-copy: creating the roles on the target failed" >&2
        exit 1
    fi
}

restore() {
    restore_roles
    to_target pg_restore -d "$SCRATCH_DB" --jobs="$JOBS" --exit-on-error "$WORK/dump"
}

case "${1:-}" in
    dump) dump ;;
    restore) restore ;;
    *) echo "usage: $0 dump|restore" >&2; exit 2 ;;
esac
