"""What a database holds, reduced to numbers that two copies must share.

A fingerprint has, for every table in every schema but the system ones, its exact
row count and a content checksum, and for every sequence its last value. The
checksum is the sum of PostgreSQL's 64-bit hash of the row as text over all rows: it does
not depend on row order or physical layout (so a dump restored elsewhere has the
same one), needs no sort and no memory that grows with the table, and changes
when any row's content does.
"""

SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")

TABLES_SQL = """
SELECT n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN %s AND n.nspname NOT LIKE 'pg_temp%%'
  AND NOT c.relispartition
ORDER BY 1, 2
"""

SEQUENCES_SQL = """
SELECT schemaname, sequencename, last_value FROM pg_sequences
WHERE schemaname NOT IN %s ORDER BY 1, 2
"""

TABLE_FINGERPRINT_SQL = """
SELECT count(*),
       coalesce(sum(hashtextextended(t::text, 0)), 0)::text
FROM {table} AS t
"""


def qualified(schema, name):
    return f"{schema}.{name}"


def fingerprint(cursor, quote_ident):
    """Fingerprint of the database `cursor` is connected to.

    quote_ident(schema, name) returns the SQL-quoted qualified name (psycopg2's
    sql.Identifier composed by the caller, so this module needs no driver).
    """
    cursor.execute(TABLES_SQL, (SYSTEM_SCHEMAS,))
    tables = {}
    for schema, name in cursor.fetchall():
        cursor.execute(TABLE_FINGERPRINT_SQL.format(table=quote_ident(schema, name)))
        rows, checksum = cursor.fetchone()
        tables[qualified(schema, name)] = {"rows": rows, "checksum": checksum}
    cursor.execute(SEQUENCES_SQL, (SYSTEM_SCHEMAS,))
    sequences = {qualified(schema, name): last_value for schema, name, last_value in cursor.fetchall()}
    return {"tables": tables, "sequences": sequences}


def mismatches(source, target):
    """Differences between two fingerprints, each naming the object and what differs."""
    found = []
    for name, wanted in sorted(source["tables"].items()):
        got = target["tables"].get(name)
        if got is None:
            found.append({"object": name, "kind": "table", "problem": "missing in target"})
            continue
        for field in ("rows", "checksum"):
            if wanted[field] != got[field]:
                found.append({"object": name, "kind": "table", "problem": f"{field} differ",
                              "source": wanted[field], "target": got[field]})
    for name in sorted(set(target["tables"]) - set(source["tables"])):
        found.append({"object": name, "kind": "table", "problem": "only in target"})
    for name, wanted in sorted(source["sequences"].items()):
        if name not in target["sequences"]:
            found.append({"object": name, "kind": "sequence", "problem": "missing in target"})
        elif target["sequences"][name] != wanted:
            found.append({"object": name, "kind": "sequence", "problem": "last_value differs",
                          "source": wanted, "target": target["sequences"][name]})
    return found
