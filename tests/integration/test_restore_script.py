"""roles/db_backup's restore script against real PostgreSQL and SeaweedFS: backups made by
the backup script are restored into scratch databases, compared with their manifests, and
only a verified one is swapped in; damaged backups are refused before any database exists.
"""
import os
import signal
import subprocess
import time

import pytest

from tests.fixtures.backup import AgeKey, db_fingerprint
from tests.fixtures.ports import free_port

SEED_TABLES = {"public.companies": 10, "public.users": 21, "public.clients": 35,
               "public.cases": 31, "public.schedule_events": 78}


@pytest.fixture
def postgres_db(postgres_server, request):
    """Short database names: the script's names add up to 38 characters to them (63 at most)."""
    name = f"r{abs(hash(request.node.name)) % 10**8}"
    postgres_server.create_database(name)
    yield name
    for (other,) in postgres_server.query(
            f"SELECT datname FROM pg_database WHERE datname LIKE '{name}%' OR datname IN "
            "('from_s3', 'half_done', 'mismatch', 'while_s3_down')"):
        postgres_server.execute(f'DROP DATABASE IF EXISTS "{other}" WITH (FORCE)')


def databases(server):
    return {row[0] for row in server.query("SELECT datname FROM pg_database")}


def made_backup(backup):
    status, output = backup.run()
    assert status == 0, output
    [name] = backup.finished()
    return name


def test_list_shows_local_and_s3_copies_newest_first(backup):
    first = made_backup(backup)
    (backup.dir / first).rename(backup.dir.parent / "moved-away")  # now only in S3
    second = made_backup(backup)
    status, out, err = backup.restore("list")
    assert status == 0, err
    lines = [line.split()[:2] for line in out.splitlines()]
    assert lines == [[second, "local"], [second, "s3"], [first, "s3"]]


def test_local_backups_stay_listed_and_restorable_when_s3_is_down(backup, postgres_server):
    name = made_backup(backup)
    closed = f"http://127.0.0.1:{free_port()}"
    status, out, err = backup.restore("list", S3_ENDPOINT_URL=closed)
    assert status == 0, err
    assert [line.split()[:2] for line in out.splitlines()] == [[name, "local"]]
    assert "S3 not listed (EndpointConnectionError" in err
    status, _out, err = backup.restore("restore", "latest", "while_s3_down", S3_ENDPOINT_URL=closed)
    assert status == 0, err
    # The drill proves the S3 copy: without S3 it fails.
    status, _out, err = backup.restore("drill", S3_ENDPOINT_URL=closed)
    assert status != 0 and "drill FAILED" in err


def test_an_unknown_backup_is_named_in_the_error(backup, postgres_server):
    made_backup(backup)
    before = databases(postgres_server)
    status, _out, err = backup.restore("restore", "advwell-nothing-20000101T000000Z", "nothing")
    assert status != 0
    assert "no backup named advwell-nothing-20000101T000000Z" in err
    assert databases(postgres_server) == before


def test_restore_into_a_scratch_database_matches_the_manifest(backup, postgres_server):
    name = made_backup(backup)
    status, out, err = backup.restore("restore", name)
    assert status == 0, err
    scratch = backup.dbname + "_restore"
    assert "5 tables, 175 rows: equal to the manifest" in out
    assert db_fingerprint(postgres_server, scratch)["tables"] == db_fingerprint(
        postgres_server, backup.dbname)["tables"]
    owner = postgres_server.query(
        f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{backup.dbname}'")[0][0]
    assert postgres_server.query(
        f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{scratch}'")[0][0] == owner
    # A second restore into the same scratch database is refused, and changes nothing.
    status, _out, err = backup.restore("restore", name)
    assert status != 0 and f"database {scratch} exists" in err


def test_restore_from_s3_when_there_is_no_local_copy(backup, postgres_server):
    name = made_backup(backup)
    (backup.dir / name).rename(backup.dir.parent / "gone")
    status, out, err = backup.restore("restore", "latest", "from_s3")
    assert status == 0, err
    assert f"downloading s3://{backup.bucket}/" in err
    assert "equal to the manifest" in out
    assert not (backup.dir / ".restore").exists()
    assert db_fingerprint(postgres_server, "from_s3")["tables"] == db_fingerprint(
        postgres_server, backup.dbname)["tables"]


@pytest.mark.parametrize("damage, message", [
    ("truncate", "bytes, the manifest says"),
    ("flip", "content differs from the manifest"),
    ("remove", ": missing"),
])
def test_a_damaged_backup_is_refused_before_any_database_is_created(
        backup, postgres_server, damage, message):
    name = made_backup(backup)
    dump = backup.dir / name / "db.dump"
    victim = max(dump.glob("*.dat.*"), key=lambda path: path.stat().st_size)
    data = victim.read_bytes()
    if damage == "truncate":
        victim.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        victim.write_bytes(data[:-20] + bytes(b ^ 0xFF for b in data[-20:]))
    else:
        victim.unlink()
    before = databases(postgres_server)
    production = db_fingerprint(postgres_server, backup.dbname)
    status, _out, err = backup.restore("restore", name)
    assert status != 0
    assert "is damaged" in err and f"db.dump/{victim.name}" in err and message in err, err
    assert databases(postgres_server) == before
    assert db_fingerprint(postgres_server, backup.dbname) == production


def test_a_restore_that_fails_midway_leaves_no_scratch_database(backup, postgres_server):
    name = made_backup(backup)
    backup.wrap_tool("pg_restore", 'for a; do [ "$a" = --list ] && exec "$REAL" "$@"; done\n'
                                   '"$REAL" "$@" --use-list=/dev/null; exit 1')
    before = databases(postgres_server)
    status, _out, err = backup.restore("restore", name, "half_done")
    assert status != 0
    assert "dropping the unverified half_done" in err
    assert databases(postgres_server) == before


def test_a_restore_that_differs_from_the_manifest_is_not_marked_verified(backup, postgres_server):
    """The dump and the manifest disagree (a row added to the dump's data after the fact is
    not possible without breaking its checksum, so the manifest is edited instead): the
    restore fails the comparison, names the table, and drops the scratch database."""
    name = made_backup(backup)
    manifest = backup.dir / name / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"rows": 35', '"rows": 36'))
    # verify-files does not cover manifest.json itself; the table comparison must catch it.
    status, _out, err = backup.restore("restore", name, "mismatch")
    assert status != 0
    assert "public.clients: 35 rows, the manifest says 36" in err
    assert "mismatch" not in databases(postgres_server)


def test_swap_makes_the_verified_copy_production_and_keeps_the_old_one(backup, postgres_server):
    name = made_backup(backup)
    assert backup.restore("restore", name)[0] == 0
    postgres_server.execute("DELETE FROM public.schedule_events WHERE id % 2 = 0", backup.dbname)
    damaged = db_fingerprint(postgres_server, backup.dbname)
    status, _out, err = backup.restore("swap", backup.dbname + "_restore")
    assert status == 0, err
    kept = [db for db in databases(postgres_server) if db.startswith(backup.dbname + "_before_restore_")]
    assert len(kept) == 1
    assert db_fingerprint(postgres_server, kept[0]) == damaged
    restored = db_fingerprint(postgres_server, backup.dbname)["tables"]
    assert {table: value["rows"] for table, value in restored.items()} == SEED_TABLES
    assert backup.dbname + "_restore" not in databases(postgres_server)


def test_swap_refuses_a_database_it_did_not_verify(backup, postgres_server):
    postgres_server.execute(f'CREATE DATABASE "{backup.dbname}_restore"')
    production = db_fingerprint(postgres_server, backup.dbname)
    status, _out, err = backup.restore("swap", backup.dbname + "_restore")
    assert status != 0 and "was not restored and verified" in err
    status, _out, err = backup.restore("swap", backup.dbname)
    assert status != 0 and "not " + backup.dbname in err
    assert db_fingerprint(postgres_server, backup.dbname) == production


def test_the_drill_restores_the_latest_s3_backup_and_records_the_time(backup, postgres_server):
    made_backup(backup)
    drill_metrics = backup.metrics.parent / "advwell_restore_drill.prom"
    status, _out, err = backup.restore("drill")
    assert status == 0, err
    assert "drill passed" in err
    text = drill_metrics.read_text()
    assert "advwell_restore_drill_success 1" in text
    assert "advwell_restore_drill_tables 5" in text
    seconds = float(next(line.split()[1] for line in text.splitlines()
                         if line.startswith("advwell_restore_drill_duration_seconds ")))
    assert 0 < seconds < 60
    assert backup.dbname + "_restore_drill" not in databases(postgres_server)

    # S3's copy damaged: the drill fails, says so in the metrics, keeps the last success time.
    s3 = backup.s3.client()
    [key] = [item["Key"] for item in s3.list_objects_v2(Bucket=backup.bucket)["Contents"]]
    assert key.endswith(".tar.age")  # what the drill restored was the encrypted copy
    stored = s3.get_object(Bucket=backup.bucket, Key=key)
    body = stored["Body"].read()
    s3.put_object(Bucket=backup.bucket, Key=key, Body=body[: len(body) // 2], Metadata=stored["Metadata"])
    status, _out, err = backup.restore("drill")
    assert status != 0 and "drill FAILED" in err
    assert "is not the uploaded" in err  # the sha256 recorded at upload
    text_after = drill_metrics.read_text()
    assert "advwell_restore_drill_success 0" in text_after
    last = "advwell_restore_drill_last_success_timestamp_seconds"
    assert [line for line in text_after.splitlines() if line.startswith(last)] == [
        line for line in text.splitlines() if line.startswith(last)]
    assert backup.dbname + "_restore_drill" not in databases(postgres_server)


def test_a_wrong_key_fails_clearly_and_leaves_nothing(backup, postgres_server):
    name = made_backup(backup)
    (backup.dir / name).rename(backup.dir.parent / "gone")  # only S3's encrypted copy is left
    scratch = backup.dbname + "_wrong_key"
    before = databases(postgres_server)
    wrong = AgeKey(backup.dir.parent, "wrong")
    status, _out, err = backup.restore("restore", "latest", scratch, AGE_IDENTITY_FILE=wrong.identity)
    assert status != 0
    assert f"cannot decrypt it with the age identity {wrong.identity}" in err, err
    assert "no identity matched any of the recipients" in err
    missing = backup.dir.parent / "no-such-identity.txt"
    status, _out, err = backup.restore("restore", "latest", scratch, AGE_IDENTITY_FILE=missing)
    assert status != 0 and f"there is no age identity (private key) file {missing}" in err, err
    status, _out, err = backup.restore("drill", AGE_IDENTITY_FILE=wrong.identity)
    assert status != 0 and "drill FAILED" in err and "cannot decrypt" in err
    # Nothing left: no database, no staging directory, no partial download or extraction.
    assert databases(postgres_server) == before
    assert sorted(path.name for path in backup.dir.iterdir()) == [".lock", ".restore.lock"]
    # With the right key the same copy restores.
    status, out, err = backup.restore("restore", "latest", scratch)
    assert status == 0 and "equal to the manifest" in out, err


def test_a_restore_and_the_drill_cannot_run_at_once(backup, postgres_server, tmp_path):
    made_backup(backup)
    restoring = tmp_path / "restoring"
    backup.wrap_tool("pg_restore", 'for a; do [ "$a" = --list ] && exec "$REAL" "$@"; done\n'
                                   f'touch {restoring}; sleep 600')
    backup.write_env()
    drill = subprocess.Popen([str(backup.restore_script), "drill"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not restoring.exists():
            assert drill.poll() is None, drill.communicate()
            assert time.monotonic() < deadline, "the drill never reached pg_restore"
            time.sleep(0.1)
        before = databases(postgres_server)
        for args in (("restore", "latest", backup.dbname + "_meanwhile"), ("drill",), ("swap", "x")):
            status, _out, err = backup.restore(*args)
            assert status != 0, args
            assert "another restore or drill is running (advwell-restore drill, pid" in err, err
            assert "a restore and the drill cannot run at once" in err
        assert databases(postgres_server) == before
        assert (backup.dir / ".restore").is_dir()  # the drill's staging, untouched
    finally:
        os.killpg(drill.pid, signal.SIGTERM)
        drill.communicate(timeout=60)
    # Once the drill has ended, a restore runs.
    (backup.bindir / "pg_restore").unlink()
    (backup.bindir / "pg_restore").symlink_to(postgres_server.tool("pg_restore"))
    status, out, err = backup.restore("restore", "latest", backup.dbname + "_after")
    assert status == 0 and "equal to the manifest" in out, err
