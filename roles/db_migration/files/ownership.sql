-- The statements that give the role %(owner)s the current database and every object
-- in it that it does not own: schemas, tables, views, sequences not owned by a table,
-- types and routines. System schemas and members of extensions are left alone.
WITH owner AS (SELECT oid FROM pg_roles WHERE rolname = %(owner)s),
extension_member AS (SELECT classid, objid FROM pg_depend WHERE deptype = 'e'),
user_schema AS (
    SELECT oid, nspname FROM pg_namespace
    WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\_%%'
)
SELECT format('ALTER DATABASE %%I OWNER TO %%I', datname, %(owner)s) AS statement
FROM pg_database WHERE datname = current_database() AND datdba <> (SELECT oid FROM owner)
UNION ALL
SELECT format('ALTER SCHEMA %%I OWNER TO %%I', s.nspname, %(owner)s)
FROM user_schema s JOIN pg_namespace n ON n.oid = s.oid
WHERE n.nspowner NOT IN ((SELECT oid FROM owner), 'pg_database_owner'::regrole)
  AND (SELECT oid FROM owner) IS NOT NULL
  AND (n.tableoid, n.oid) NOT IN (SELECT classid, objid FROM extension_member)
UNION ALL
SELECT format('ALTER %%s %%s OWNER TO %%I',
              CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                             WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE'
                             ELSE 'TABLE' END,
              c.oid::regclass, %(owner)s)
FROM pg_class c JOIN user_schema s ON s.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND c.relowner <> (SELECT oid FROM owner)
  AND (c.tableoid, c.oid) NOT IN (SELECT classid, objid FROM extension_member)
  AND NOT (c.relkind = 'S' AND EXISTS (
      SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
        AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')))
UNION ALL
SELECT format('ALTER %%s %%s OWNER TO %%I', CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END,
              t.oid::regtype, %(owner)s)
FROM pg_type t JOIN user_schema s ON s.oid = t.typnamespace
WHERE t.typtype IN ('e', 'd', 'r') AND t.typowner <> (SELECT oid FROM owner)
  AND (t.tableoid, t.oid) NOT IN (SELECT classid, objid FROM extension_member)
UNION ALL
SELECT format('ALTER %%s %%s OWNER TO %%I',
              CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END,
              p.oid::regprocedure, %(owner)s)
FROM pg_proc p JOIN user_schema s ON s.oid = p.pronamespace
WHERE p.proowner <> (SELECT oid FROM owner)
  AND (p.tableoid, p.oid) NOT IN (SELECT classid, objid FROM extension_member)
