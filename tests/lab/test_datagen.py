"""lab/datagen/advwell_datagen.py against a real PostgreSQL server."""
import json
import os
import subprocess
import sys
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATAGEN = os.path.join(REPO, "lab", "datagen", "advwell_datagen.py")
TABLES = ("companies", "users", "clients", "cases", "schedule_events")
SEED_COUNTS = {"companies": 10, "users": 21, "clients": 35, "cases": 31, "schedule_events": 78}
EXIT_REFUSED = 3


def run_datagen(server, dbname, *args, expect=0):
    result = subprocess.run([sys.executable, DATAGEN, "--dsn", server.dsn(dbname), *args],
                            capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == expect, result.stderr
    return result


def printed_counts(result):
    return json.loads(result.stdout.strip().splitlines()[-1])


def query(server, dbname, sql, params=None):
    conn = server.connect(dbname)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    finally:
        conn.close()


def table_digests(server, dbname):
    """md5 of every table's rows in id order: equal digests mean equal contents."""
    conn = server.connect(dbname)
    try:
        with conn.cursor() as cur:
            cur.execute("SET TIME ZONE 'UTC'")
            digests = {}
            for table in TABLES:
                cur.execute(f"SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t.id), '')) "
                            f"FROM public.{table} t")
                digests[table] = cur.fetchone()[0]
            return digests
    finally:
        conn.close()


@pytest.fixture
def second_db(postgres_server, postgres_db):
    """Another empty database, for comparing two runs."""
    name = postgres_server.create_database(postgres_db[:55] + "_b")
    yield name
    postgres_server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_postgres_db_fixture_gives_an_empty_database(postgres_server, postgres_db):
    rows = query(postgres_server, postgres_db,
                 "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
    assert rows == [(0,)]


def test_default_generation_writes_exactly_the_seed_counts(postgres_server, postgres_db):
    result = run_datagen(postgres_server, postgres_db)
    assert printed_counts(result) == SEED_COUNTS
    counts = run_datagen(postgres_server, postgres_db, "--counts")
    assert printed_counts(counts) == SEED_COUNTS


def test_rows_only_point_at_rows_of_their_own_company(postgres_server, postgres_db):
    run_datagen(postgres_server, postgres_db, "--offices", "20")
    references = [("cases", "client_id", "clients"),
                  ("schedule_events", "case_id", "cases"),
                  ("schedule_events", "user_id", "users")]
    for table, column, target in references:
        sql = (f"SELECT count(*) FROM {table} r JOIN {target} t ON t.id = r.{column} "
               "WHERE t.company_id <> r.company_id")
        assert query(postgres_server, postgres_db, sql) == [(0,)], f"{table}.{column}"
    foreign_keys = {name for (name,) in query(
        postgres_server, postgres_db, "SELECT conname FROM pg_constraint "
        "WHERE contype = 'f' AND connamespace = 'public'::regnamespace")}
    assert {"cases_client_same_company_fkey", "schedule_events_case_same_company_fkey",
            "schedule_events_user_same_company_fkey"} <= foreign_keys


def test_every_company_has_an_admin_and_emails_are_unique_per_company(postgres_server, postgres_db):
    run_datagen(postgres_server, postgres_db)
    admins = query(postgres_server, postgres_db,
                   "SELECT count(DISTINCT company_id) FROM users WHERE role = 'admin'")
    assert admins == [(10,)]


def test_same_arguments_give_identical_tables(postgres_server, postgres_db, second_db):
    for dbname in (postgres_db, second_db):
        run_datagen(postgres_server, dbname, "--offices", "30", "--seed", "7")
    assert table_digests(postgres_server, postgres_db) == table_digests(postgres_server, second_db)


def test_another_seed_gives_other_contents(postgres_server, postgres_db, second_db):
    run_datagen(postgres_server, postgres_db, "--seed", "1")
    run_datagen(postgres_server, second_db, "--seed", "2")
    first, second = (table_digests(postgres_server, db) for db in (postgres_db, second_db))
    assert all(first[table] != second[table] for table in TABLES)


def test_200_offices_are_mostly_small_with_a_few_large(postgres_server, postgres_db):
    result = run_datagen(postgres_server, postgres_db, "--offices", "200")
    counts = printed_counts(result)
    assert counts["companies"] == 200
    mix = dict(query(postgres_server, postgres_db,
                     "SELECT plan, count(*) FROM companies GROUP BY plan"))
    assert mix == {"basic": 140, "professional": 50, "enterprise": 10}
    clients_per_office = dict(query(postgres_server, postgres_db, """
        SELECT co.plan, avg(n)::int FROM companies co
        JOIN (SELECT company_id, count(*) AS n FROM clients GROUP BY company_id) c
          ON c.company_id = co.id GROUP BY co.plan"""))
    assert (clients_per_office["basic"] < clients_per_office["professional"]
            < clients_per_office["enterprise"])
    for table in ("users", "clients", "cases", "schedule_events"):
        assert counts[table] > 5 * SEED_COUNTS[table], table


def test_refuses_to_fill_a_database_that_has_rows(postgres_server, postgres_db):
    run_datagen(postgres_server, postgres_db)
    before = table_digests(postgres_server, postgres_db)
    refused = run_datagen(postgres_server, postgres_db, "--offices", "5", expect=EXIT_REFUSED)
    assert "refusing" in refused.stderr
    assert table_digests(postgres_server, postgres_db) == before


def test_force_truncates_and_regenerates_the_same_rows(postgres_server, postgres_db):
    run_datagen(postgres_server, postgres_db)
    before = table_digests(postgres_server, postgres_db)
    result = run_datagen(postgres_server, postgres_db, "--force")
    assert printed_counts(result) == SEED_COUNTS
    assert table_digests(postgres_server, postgres_db) == before


def test_without_schema_creation_an_empty_database_is_an_error(postgres_server, postgres_db):
    result = run_datagen(postgres_server, postgres_db, "--no-create-schema", expect=2)
    assert "missing tables" in result.stderr


def test_generated_ids_leave_the_identity_sequences_ready(postgres_server, postgres_db):
    run_datagen(postgres_server, postgres_db)
    rows = query(postgres_server, postgres_db, """
        INSERT INTO clients (company_id, name, document) VALUES (1, 'Novo Cliente', '000')
        RETURNING id""")
    assert rows == [(SEED_COUNTS["clients"] + 1,)]


def test_target_size_is_reached_and_deterministic(postgres_server, postgres_db, second_db):
    target_mb = 30
    started = time.monotonic()
    run_datagen(postgres_server, postgres_db, "--target-size-mb", str(target_mb))
    assert time.monotonic() - started < 120
    size = query(postgres_server, postgres_db, "SELECT pg_database_size(current_database())")
    assert size[0][0] >= target_mb * 1024 * 1024
    run_datagen(postgres_server, second_db, "--target-size-mb", str(target_mb))
    assert table_digests(postgres_server, postgres_db) == table_digests(postgres_server, second_db)
    autovacuum_off = query(postgres_server, postgres_db, """
        SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace
        AND reloptions::text LIKE '%autovacuum_enabled%'""")
    assert autovacuum_off == [(0,)]
