"""advwell.platform.pg_fingerprint on real databases: a pg_dump/pg_restore copy has the
same fingerprint, and any change to a row, a row count or a sequence shows up, named."""
import os
import subprocess
import sys
from contextlib import closing

import pytest

from ansible_collections.advwell.platform.plugins.module_utils.pg_fingerprint import mismatches
from tests.integration.ansible_run import REPO_ROOT, run_module

DATAGEN = os.path.join(REPO_ROOT, "lab", "datagen", "advwell_datagen.py")


def fingerprint(tmp_path, server, dbname, check_mode=False):
    result, run = run_module(tmp_path, "advwell.platform.pg_fingerprint", dict(
        login_host=server.host, login_port=server.port, login_user=server.user,
        login_password=server.password, login_db=dbname), check_mode=check_mode)
    assert not result.get("failed"), result
    assert result["changed"] is False
    assert server.password not in run.stdout + run.stderr
    return result


def execute(server, dbname, statement):
    with closing(server.connect(dbname)) as conn, conn.cursor() as cursor:
        cursor.execute(statement)


@pytest.fixture(scope="module")
def advwell_pair(postgres_server):
    """An AdvWell database (20 offices) and a pg_dump -Fd / pg_restore -j copy of it."""
    source, target = "fp_source", "fp_target"
    for name in (source, target):
        postgres_server.create_database(name)
    subprocess.run([sys.executable, DATAGEN, "--dsn", postgres_server.dsn(source), "--offices", "20"],
                   check=True, capture_output=True)
    env = dict(os.environ, PGPASSWORD=postgres_server.password)
    common = ["-h", postgres_server.host, "-p", str(postgres_server.port), "-U", postgres_server.user]
    dump_dir = f"/tmp/advwell-fp-dump-{os.getpid()}"
    subprocess.run([postgres_server.tool("pg_dump"), *common, "-Fd", "-j", "2", "-f", dump_dir, source],
                   check=True, capture_output=True, env=env)
    subprocess.run([postgres_server.tool("pg_restore"), *common, "-j", "2", "-d", target, dump_dir],
                   check=True, capture_output=True, env=env)
    subprocess.run(["rm", "-rf", dump_dir], check=True)
    return source, target


def test_a_restored_copy_has_the_same_fingerprint(tmp_path, postgres_server, advwell_pair):
    source, target = advwell_pair
    original = fingerprint(tmp_path, postgres_server, source)
    copy = fingerprint(tmp_path, postgres_server, target)
    assert original["table_count"] == 5
    assert set(original["fingerprint"]["tables"]) == {
        "public.companies", "public.users", "public.clients", "public.cases", "public.schedule_events"}
    assert original["fingerprint"]["tables"]["public.companies"]["rows"] == 20
    assert original["fingerprint"]["sequences"]
    assert mismatches(original["fingerprint"], copy["fingerprint"]) == []


def test_check_mode_reads_the_same(tmp_path, postgres_server, advwell_pair):
    source, _target = advwell_pair
    assert fingerprint(tmp_path, postgres_server, source, check_mode=True)["fingerprint"] == \
        fingerprint(tmp_path, postgres_server, source)["fingerprint"]


def test_changed_row_lost_row_and_sequence_are_named(tmp_path, postgres_server, advwell_pair):
    source, _target = advwell_pair
    execute(postgres_server, "postgres", 'DROP DATABASE IF EXISTS "fp_changed"')
    execute(postgres_server, "postgres", f'CREATE DATABASE "fp_changed" TEMPLATE "{source}"')
    execute(postgres_server, "fp_changed", "UPDATE public.cases SET title = title || '.' "
                                           "WHERE id = (SELECT min(id) FROM public.cases)")
    execute(postgres_server, "fp_changed", "DELETE FROM public.schedule_events "
                                           "WHERE id = (SELECT max(id) FROM public.schedule_events)")
    execute(postgres_server, "fp_changed", "SELECT setval(pg_get_serial_sequence('public.users', 'id'), 999999)")
    found = mismatches(fingerprint(tmp_path, postgres_server, source)["fingerprint"],
                       fingerprint(tmp_path, postgres_server, "fp_changed")["fingerprint"])
    problems = {(m["object"], m["problem"]) for m in found}
    assert ("public.cases", "checksum differ") in problems
    assert ("public.cases", "rows differ") not in problems
    assert ("public.schedule_events", "rows differ") in problems
    assert any(obj.startswith("public.users") and kind == "last_value differs" for obj, kind in problems)
    assert not any(m["object"] in ("public.companies", "public.clients") for m in found)


def test_wrong_password_fails_without_showing_it(tmp_path, postgres_server, advwell_pair):
    source, _target = advwell_pair
    result, run = run_module(tmp_path, "advwell.platform.pg_fingerprint", dict(
        login_host=postgres_server.host, login_port=postgres_server.port, login_user=postgres_server.user,
        login_password="not-the-password-123", login_db=source))
    assert result["failed"] is True
    assert "password authentication failed" in result["msg"]
    assert "not-the-password-123" not in run.stdout + run.stderr


def test_unknown_option_is_rejected_naming_it(tmp_path, postgres_server):
    result, _play = run_module(tmp_path, "advwell.platform.pg_fingerprint", dict(
        login_host=postgres_server.host, login_port="not-a-port"))
    assert result["failed"] is True
    assert "login_port" in result["msg"]


def test_required_tls_is_not_silently_dropped(tmp_path, postgres_server, advwell_pair):
    """The fixture's server has no TLS: a module told to verify the server must fail, not
    fall back to plaintext (libpq's 'prefer' would)."""
    source, _target = advwell_pair
    result, _play = run_module(tmp_path, "advwell.platform.pg_fingerprint", dict(
        login_host=postgres_server.host, login_port=postgres_server.port, login_user=postgres_server.user,
        login_password=postgres_server.password, login_db=source, ssl_mode="verify-full",
        ca_cert=str(tmp_path / "no-such-ca.crt")))
    assert result["failed"] is True
    assert "server does not support SSL" in result["msg"] or "root certificate file" in result["msg"]


def test_an_unknown_ssl_mode_is_rejected_naming_it(tmp_path, postgres_server):
    result, _play = run_module(tmp_path, "advwell.platform.pg_fingerprint", dict(
        login_host=postgres_server.host, login_port=postgres_server.port, ssl_mode="verify-nothing"))
    assert result["failed"] is True
    assert "ssl_mode" in result["msg"]
