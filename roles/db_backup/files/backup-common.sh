# shellcheck shell=bash
# Shared by the backup and restore scripts: settings, PostgreSQL's tools, logging, the
# table fingerprint and node_exporter textfile metrics. Sourced with ENV_FILE and LIB_DIR set.

set -a  # the tools read PG* and AWS_* from the environment
# shellcheck disable=SC1090
source "$ENV_FILE"
set +a
# A failure inside $(...) fails the assignment too (bash clears -e there otherwise).
shopt -s inherit_errexit

: "${BACKUP_DIR:?}" "${PGDATABASE:?}" "${S3_BUCKET:?}"
S3_PREFIX=${S3_PREFIX:-backups/postgresql/}
PG_BINDIR=${PG_BINDIR:-}
# Words put before every PostgreSQL tool, e.g. a one-shot container of the server's image.
read -r -a PG_RUN <<<"${PG_RUN:-}"
PG_JOBS=${PG_JOBS:-2}
METRICS_FILE=${METRICS_FILE:-/var/lib/prometheus/node-exporter/advwell_backup.prom}
PYTHON=${PYTHON:-/usr/bin/python3}
# shellcheck disable=SC2034  # used by the scripts that source this file
TOOL=$LIB_DIR/advwell-backup-tool.py

log() { printf '%s %s: %s\n' "$(date -u +%FT%TZ)" "${0##*/}" "$*" >&2; }

pg() {
    local tool=$1
    shift
    "${PG_RUN[@]}" "${PG_BINDIR:+$PG_BINDIR/}$tool" "$@"
}

# fingerprint DATABASE [SNAPSHOT]: the tables' JSON, read in the exported snapshot when given.
fingerprint() {
    {
        echo "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;"
        [ -z "${2:-}" ] || echo "SET TRANSACTION SNAPSHOT '$2';"
        cat "$LIB_DIR/fingerprint.sql"
        echo "COMMIT;"
    } | pg psql -X -q -At -v ON_ERROR_STOP=1 -d "$1"
}

# metric_value FILE NAME: a metric's value in a textfile, or nothing.
metric_value() {
    awk -v m="$2" '$1 == m { print $2 }' "$1" 2>/dev/null || true
}

# write_metrics FILE < text: node_exporter must never read a half-written file.
write_metrics() {
    mkdir -p "$(dirname "$1")"
    cat >"$1.$$"
    chmod 0644 "$1.$$"
    mv -f "$1.$$" "$1"
}
