-- Exact row count and content checksum of every table, as JSON {"schema.table": {rows, checksum}}:
-- the formula of advwell.platform.pg_fingerprint, so a backup's manifest and a restored
-- database are compared number for number. The caller wraps it in the transaction it needs.
SELECT coalesce(json_object_agg(n.nspname || '.' || c.relname, json_build_object(
    'rows', (xpath('/row/n/text()', x))[1]::text::bigint,
    'checksum', (xpath('/row/s/text()', x))[1]::text) ORDER BY n.nspname, c.relname), '{}')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
LATERAL query_to_xml(format('SELECT count(*) AS n, coalesce(sum(hashtextextended(t::text, 0)), 0)::text AS s FROM %I.%I AS t', n.nspname, c.relname), false, true, '') AS x
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg_temp%';
