"""roles/db_backup's backup script, rendered from its template and run for real against the
PostgreSQL fixture (the seed's AdvWell data) and SeaweedFS.

PostgreSQL's tools are reached through PG_BINDIR, so a test can put a wrapper in front of
pg_dump: one that writes while the dump runs (the manifest must describe the dump, not the
database afterwards), one that hangs until the run is stopped, one that dies.
"""
import glob
import hashlib
import http.server
import io
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from tests.fixtures.backup import PREFIX, ROLE, AgeKey, db_fingerprint, install_lib, render, sha256
from tests.fixtures.ports import free_port
from tests.integration.ansible_run import REPO_ROOT, ansible

SEED_ROWS = {"public.companies": 10, "public.users": 21, "public.clients": 35,
             "public.cases": 31, "public.schedule_events": 78}


def decrypt(body, identity):
    """What age makes of an S3 object with the identity file."""
    run = subprocess.run(["age", "--decrypt", "--identity", str(identity)], input=body, capture_output=True, check=False)
    assert run.returncode == 0, run.stderr
    return run.stdout


@pytest.mark.parametrize("template", ["advwell-backup.sh.j2", "advwell-restore.sh.j2"])
def test_the_rendered_scripts_are_shellcheck_clean(tmp_path, template):
    script = tmp_path / template[:-len(".sh.j2")]
    script.write_text(render(os.path.join(ROLE, "templates", template),
                             db_backup_env_file="/etc/advwell/backup.env",
                             db_backup_restore_env_file="/etc/advwell/restore.env",
                             db_backup_lib_dir="/usr/local/lib/advwell-backup"))
    run = subprocess.run(["shellcheck", "--severity=style", "--external-sources",
                          "--source-path", os.path.join(ROLE, "files"), str(script)],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout


def test_a_backup_is_verified_described_and_uploaded(backup, postgres_server, tmp_path):
    before = db_fingerprint(postgres_server, backup.dbname)
    # Rows written while the dump runs (after the snapshot) belong to neither dump nor manifest.
    superuser = f"PGUSER={postgres_server.user} PGPASSWORD={postgres_server.password}"
    backup.wrap_pg_dump(f"[[ $* == *--snapshot=* ]] && {superuser} {postgres_server.tool('psql')} -X -q -c "
                        "\"INSERT INTO companies (name, document, email) SELECT 'late', g, g FROM generate_series(1, 5) g\"\n"
                        'exec "$REAL" "$@"')
    status, output = backup.run()
    assert status == 0, output

    [name] = backup.finished()
    final = backup.dir / name
    manifest = json.loads((final / "manifest.json").read_text())
    assert {table: entry["rows"] for table, entry in manifest["tables"].items()} == SEED_ROWS
    assert manifest["tables"] == before["tables"]
    assert db_fingerprint(postgres_server, backup.dbname)["tables"]["public.companies"]["rows"] == 15
    for relative, entry in manifest["files"].items():
        assert sha256(final / relative) == entry["sha256"], relative
        assert (final / relative).stat().st_size == entry["size"]
    assert "db.dump/toc.dat" in manifest["files"] and "globals.sql" in manifest["files"]

    # pg_dump 15 dumps uncompressed; the script compresses the data files with zstd.
    data_files = sorted(p.name for p in (final / "db.dump").iterdir() if p.name != "toc.dat")
    assert data_files and all(name.endswith(".dat.zst") for name in data_files), data_files

    # The dump holds what the manifest says: restored, it has the manifest's fingerprint.
    plain = tmp_path / "plain"
    shutil.copytree(final / "db.dump", plain)
    subprocess.run(["zstd", "-d", "-q", "--rm", *[str(plain / name) for name in data_files]], check=True)
    restored = postgres_server.create_database(backup.dbname + "_r")
    subprocess.run([postgres_server.tool("pg_restore"), "-d", postgres_server.dsn(restored), str(plain)],
                   check=True, capture_output=True)
    assert db_fingerprint(postgres_server, restored)["tables"] == manifest["tables"]
    postgres_server.execute(f'DROP DATABASE "{restored}"')

    client = backup.s3.client()
    stored = client.get_object(Bucket=backup.bucket, Key=f"{PREFIX}{name}.tar.age")
    body = stored["Body"].read()
    assert stored["ContentLength"] == len(body)
    assert stored["Metadata"]["sha256"] == hashlib.sha256(body).hexdigest()
    with tarfile.open(fileobj=io.BytesIO(decrypt(body, backup.identity))) as tar:
        assert tar.extractfile(f"{name}/manifest.json").read() == (final / "manifest.json").read_bytes()
    # Marked uploaded once verified; the marker is not part of the backup.
    marker = json.loads((final / "uploaded.json").read_text())
    assert marker["url"] == f"s3://{backup.bucket}/{PREFIX}{name}.tar.age"
    assert marker["sha256"] == stored["Metadata"]["sha256"]
    assert not list(backup.dir.glob("*.partial"))

    assert backup.metric("advwell_backup_success") == 'advwell_backup_success{stage="complete"} 1'
    assert abs(float(backup.metric("advwell_backup_last_success_timestamp_seconds").split()[1]) - time.time()) < 120
    assert int(backup.metric("advwell_backup_size_bytes").split()[1]) > 1024
    assert not list(backup.metrics.parent.glob("*.prom.*"))


def test_the_snapshot_is_released_before_the_upload(backup, tmp_path, postgres_server):
    """The held transaction would keep vacuum from cleaning up for as long as the upload takes."""
    seen = tmp_path / "open-transactions"
    python = tmp_path / "python"
    python.write_text(f"#!/bin/bash\n[ \"$2\" = upload-pending ] && PGUSER={postgres_server.user} "
                      f"PGPASSWORD={postgres_server.password} {postgres_server.tool('psql')} -X -At -c "
                      "\"SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'\" "
                      f">{seen}\nexec {sys.executable} \"$@\"\n")
    python.chmod(0o755)
    status, output = backup.run(PYTHON=python)
    assert status == 0, output
    assert seen.read_text().strip() == "0"


def test_s3_unreachable_fails_and_keeps_the_local_backup(backup):
    status, output = backup.run(S3_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}")
    assert status != 0, output
    assert "upload" in output
    [name] = backup.finished()
    assert (backup.dir / name / "manifest.json").exists()
    assert backup.metric("advwell_backup_success") == 'advwell_backup_success{stage="upload"} 0'
    assert backup.metric("advwell_backup_last_success_timestamp_seconds").endswith(" 0")
    assert not backup.s3.client().list_objects_v2(Bucket=backup.bucket).get("Contents")


def test_a_failed_run_keeps_the_last_success_time(backup):
    status, output = backup.run()
    assert status == 0, output
    last_success = backup.metric("advwell_backup_last_success_timestamp_seconds")
    time.sleep(1.1)  # a new backup name
    status, output = backup.run(S3_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}")
    assert status != 0, output
    assert backup.metric("advwell_backup_last_success_timestamp_seconds") == last_success
    assert backup.metric("advwell_backup_success").endswith(" 0")
    assert len(backup.finished()) == 2


def test_postgresql_unreachable_fails_without_a_backup(backup):
    status, output = backup.run(PGPORT=free_port())
    assert status != 0, output
    assert backup.finished() == []
    assert backup.metric("advwell_backup_success") == 'advwell_backup_success{stage="dump"} 0'


def wait_for(path, process, timeout=60):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.1)


def test_a_run_stopped_mid_dump_leaves_no_backup(backup, tmp_path):
    """SIGTERM to the whole process group, as systemd stops a unit."""
    marker = tmp_path / "dumping"
    backup.wrap_pg_dump(f'[[ $* == *--snapshot=* ]] || exec "$REAL" "$@"\n"$REAL" "$@" && touch {marker} && sleep 600')
    process = backup.start()
    wait_for(marker, process)
    assert [p.name for p in backup.dir.iterdir() if p.name.endswith(".partial")]
    os.killpg(process.pid, signal.SIGTERM)
    output, _stderr = process.communicate(timeout=30)
    assert process.returncode != 0, output
    assert backup.finished() == []
    assert backup.metric("advwell_backup_success") == 'advwell_backup_success{stage="dump"} 0'
    assert not backup.s3.client().list_objects_v2(Bucket=backup.bucket).get("Contents")


def test_a_dump_that_dies_leaves_no_backup(backup):
    backup.wrap_pg_dump('[[ $* == *--snapshot=* ]] || exec "$REAL" "$@"\n"$REAL" "$@"; kill -KILL $$')
    status, output = backup.run()
    assert status != 0, output
    assert backup.finished() == []
    assert backup.metric("advwell_backup_success") == 'advwell_backup_success{stage="dump"} 0'


def fake_backup(directory, days_old):
    created = datetime.now(timezone.utc) - timedelta(days=days_old)
    path = directory / f"advwell-advtom-{created:%Y%m%dT%H%M%SZ}"
    path.mkdir(parents=True)
    (path / "manifest.json").write_text(json.dumps({"created": f"{created:%Y%m%dT%H%M%SZ}"}))
    return path.name


def mark_uploaded(directory, name):
    (directory / name / "uploaded.json").write_text(json.dumps({"url": f"s3://fake/{name}.tar.age"}))


def test_local_retention_never_removes_the_newest_good_backup(backup):
    names = [fake_backup(backup.dir, days) for days in (30, 20, 10)]
    for name in names:
        mark_uploaded(backup.dir, name)
    (backup.dir / "advwell-advtom-notes").mkdir()  # not a backup: no manifest, left alone
    subprocess.run([sys.executable, str(backup.lib / "advwell-backup-tool.py"), "local-retention",
                    str(backup.dir), "--days", "7"], check=True)
    assert backup.finished() == sorted(["advwell-advtom-notes", names[-1]])


def test_local_retention_never_removes_a_backup_that_is_not_in_s3(backup):
    uploaded, waiting = fake_backup(backup.dir, 30), fake_backup(backup.dir, 20)
    mark_uploaded(backup.dir, uploaded)
    newest = fake_backup(backup.dir, 10)
    run = subprocess.run([sys.executable, str(backup.lib / "advwell-backup-tool.py"), "local-retention",
                          str(backup.dir), "--days", "7"], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert backup.finished() == sorted([waiting, newest])
    assert f"not yet in S3: {waiting}" in run.stderr


def backdate(directory, name, days):
    """A copy of backup `name` as if it had been made `days` days ago (name and manifest)."""
    manifest = json.loads((directory / name / "manifest.json").read_text())
    created = datetime.now(timezone.utc) - timedelta(days=days)
    manifest["created"] = f"{created:%Y%m%dT%H%M%SZ}"
    old = name.rsplit("-", 1)[0] + "-" + manifest["created"]
    shutil.copytree(directory / name, directory / old)
    (directory / old / "manifest.json").write_text(json.dumps(manifest))
    return old


def test_an_s3_outage_longer_than_the_local_window_loses_no_backup(backup):
    """S3 down for 10 days with 7 days kept locally: nothing that is only here is removed, and
    when S3 is back the next run uploads all of them, oldest first."""
    closed = f"http://127.0.0.1:{free_port()}"
    status, output = backup.run(S3_ENDPOINT_URL=closed)
    assert status != 0, output
    [first] = backup.finished()
    # The outage's earlier days: the same backup, as if made 10, 9 and 8 days ago.
    old = [backdate(backup.dir, first, days) for days in (10, 9, 8)]
    shutil.rmtree(backup.dir / first)
    time.sleep(1.1)  # a new name
    status, output = backup.run(S3_ENDPOINT_URL=closed)
    assert status != 0 and backup.metric("advwell_backup_success") == 'advwell_backup_success{stage="upload"} 0'
    during = backup.finished()
    assert len(during) == 4 and set(old) < set(during), output
    assert backup.uploaded() == []

    time.sleep(1.1)
    status, output = backup.run()  # S3 is back
    assert status == 0, output
    assert backup.metric("advwell_backup_success") == 'advwell_backup_success{stage="complete"} 1'
    everything = during + [name for name in backup.finished() if name not in during]
    assert len(everything) == 5
    assert backup.s3_keys() == sorted(f"{PREFIX}{name}.tar.age" for name in everything)
    # Oldest first, each verified before the next.
    order = [line.split(f"{PREFIX}")[1].split(".tar.age")[0]
             for line in output.splitlines() if line.startswith("uploaded s3://")]
    assert order == sorted(everything), output
    # Once in S3, the ones past the local window are removed; the last two stay.
    assert backup.finished() == sorted(everything)[-2:]
    assert backup.uploaded() == backup.finished()


def test_a_backup_that_could_fill_the_disk_is_refused(backup):
    status, output = backup.run()
    assert status == 0, output
    [first] = backup.finished()
    time.sleep(1.1)
    status, output = backup.run(SPACE_MARGIN="1e15")  # no disk is that large
    assert status != 0
    assert "not enough space for a backup in" in output and f"the last backup ({first})" in output, output
    assert backup.metric("advwell_backup_success") == 'advwell_backup_success{stage="space"} 0'
    assert backup.finished() == [first]
    assert not [p for p in backup.dir.iterdir() if p.name.endswith(".partial")]
    # One local form per backup: the directory; its encrypted archive existed only for the upload.
    assert [p.name for p in backup.dir.iterdir() if not p.name.startswith(".")] == [first]
    assert (backup.dir / first).is_dir()


def test_the_s3_copy_is_encrypted_and_reveals_nothing_without_the_key(backup, postgres_server):
    status, output = backup.run()
    assert status == 0, output
    [name] = backup.finished()
    assert "SCRAM-SHA-256$" in (backup.dir / name / "globals.sql").read_text()  # what there is to hide
    [key] = backup.s3_keys()
    assert key == f"{PREFIX}{name}.tar.age"
    body = backup.s3.client().get_object(Bucket=backup.bucket, Key=key)["Body"].read()
    assert body.startswith(b"age-encryption.org/v1\n")
    with pytest.raises(tarfile.TarError):
        tarfile.open(fileobj=io.BytesIO(body)).getmembers()
    rows = postgres_server.query("SELECT name, email FROM companies UNION ALL SELECT name, email FROM users",
                                 backup.dbname)
    readable = [value.encode() for row in rows for value in row if value and len(value) >= 6]
    assert readable and not [value for value in readable if value in body]
    for text in (b"SCRAM-SHA-256$", b"schedule_events", b"CREATE TABLE", b"manifest.json", name.encode()):
        assert text not in body
    # Another key does not open it; the right one does, and globals.sql is inside.
    other = AgeKey(backup.dir.parent, "other")
    wrong = subprocess.run(["age", "--decrypt", "--identity", str(other.identity)], input=body, capture_output=True, check=False)
    assert wrong.returncode != 0 and not wrong.stdout
    with tarfile.open(fileobj=io.BytesIO(decrypt(body, backup.identity))) as tar:
        assert b"SCRAM-SHA-256$" in tar.extractfile(f"{name}/globals.sql").read()


def test_no_upload_without_a_recipient(backup):
    backup.recipients.write_text("# nobody\n")
    status, output = backup.run()
    assert status != 0
    assert "no age recipients in" in output
    assert backup.s3_keys() == []
    assert len(backup.finished()) == 1 and backup.uploaded() == []


def test_the_backup_reads_as_its_own_role_which_cannot_write(backup, postgres_server):
    status, output = backup.run()
    assert status == 0, output
    assert backup.settings["PGUSER"] == "advwell_backup"
    [(superuser, createrole, createdb)] = postgres_server.query(
        "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = 'advwell_backup'")
    assert (superuser, createrole, createdb) == (False, False, False)
    denied = subprocess.run(
        [postgres_server.tool("psql"), "-X", "-h", postgres_server.host, "-p", str(postgres_server.port),
         "-U", "advwell_backup", "-d", backup.dbname, "-c", "INSERT INTO companies (name, document, email) "
         "VALUES ('x', 'x', 'x')"], capture_output=True, text=True,
        env=dict(os.environ, PGPASSWORD=backup.settings["PGPASSWORD"]), check=False)
    assert denied.returncode != 0 and "permission denied" in denied.stderr


def test_a_good_run_prunes_old_local_and_s3_backups(backup):
    old = [fake_backup(backup.dir, days) for days in (9, 8)]
    for name in old:
        mark_uploaded(backup.dir, name)
    client = backup.s3.client()
    s3_old = [f"{PREFIX}advwell-{backup.dbname}-2026110{day}T030000Z.tar.age" for day in (1, 2, 3)]
    for key in s3_old:
        client.put_object(Bucket=backup.bucket, Key=key, Body=b"old")
        time.sleep(1.1)  # distinct LastModified seconds
    client.put_object(Bucket=backup.bucket, Key=f"elsewhere/advwell-{backup.dbname}-20261101T030000Z.tar.age",
                      Body=b"other prefix")
    # S3_DAYS=0: every backup but the 2 newest under the prefix goes.
    status, output = backup.run(S3_DAYS=0, S3_MIN_KEEP=2)
    assert status == 0, output
    [name] = backup.finished()
    assert name not in old
    assert backup.s3_keys() == sorted([s3_old[-1], f"{PREFIX}{name}.tar.age",
                                       f"elsewhere/advwell-{backup.dbname}-20261101T030000Z.tar.age"])


def test_s3_retention_counts_only_the_backup_jobs_objects(backup):
    """Objects under the prefix that the backup job did not make (a note, a manual copy) are
    neither pruned nor counted among the min_keep newest: they cannot push a backup out."""
    client = backup.s3.client()
    names = [f"advwell-{backup.dbname}-2026110{day}T030000Z.tar.age" for day in (1, 2, 3)]
    for name in names:
        client.put_object(Bucket=backup.bucket, Key=PREFIX + name, Body=b"old backup")
        time.sleep(1.1)
    others = ["README.txt", f"manual-copy-of-advwell-{backup.dbname}.tar", "other/advwell-x-20261101T030000Z.tar"]
    for other in others:
        client.put_object(Bucket=backup.bucket, Key=PREFIX + other, Body=b"not a backup")
    # S3_DAYS=0 and 3 kept: the new backup and the two newest old ones stay, the oldest goes.
    status, output = backup.run(S3_DAYS=0, S3_MIN_KEEP=3)
    assert status == 0, output
    [name] = backup.finished()
    assert backup.s3_keys() == sorted([PREFIX + n for n in names[1:] + others] + [f"{PREFIX}{name}.tar.age"])


def test_s3_retention_of_the_daily_job_lists_in_pages_and_deletes_in_batches(backup):
    """The module's code: 1205 backups, pages of 1000 keys and DeleteObjects of at most 1000."""
    from concurrent.futures import ThreadPoolExecutor
    client = backup.s3.client()
    keys = [f"{PREFIX}advwell-{backup.dbname}-2026{1 + index // 28 // 24 % 11:02d}{1 + index // 24 % 28:02d}"
            f"T{index % 24:02d}0000Z.tar.age" for index in range(1205)]
    assert len(set(keys)) == len(keys)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda key: client.put_object(Bucket=backup.bucket, Key=key, Body=b"x"), keys))
    env = dict(os.environ, **{key: str(value) for key, value in backup.settings.items()
                              if key.startswith(("S3_", "AWS_"))})
    started = time.monotonic()
    run = subprocess.run([sys.executable, str(backup.lib / "advwell-backup-tool.py"), "s3-retention",
                          f"s3://{backup.bucket}/{PREFIX}", "--days", "0", "--min-keep", "7",
                          "--database", backup.dbname], capture_output=True, text=True, env=env, check=False)
    seconds = time.monotonic() - started
    assert run.returncode == 0, run.stderr
    summary = run.stderr.splitlines()[-1]
    # 2 listings (an empty third is allowed) and 2 DeleteObjects (1000 + 198).
    assert summary in (f"S3 retention: 1205 objects under s3://{backup.bucket}/{PREFIX}, 1205 backups, "
                       f"1198 removed, {requests} requests" for requests in (4, 5)), summary
    assert len(backup.s3_keys()) == 7
    print(f"1205 objects, 1198 removed: {summary}, {seconds:.1f} s")


def test_a_large_upload_goes_in_parts_and_is_verified(backup, tmp_path, monkeypatch):
    large = tmp_path / "large.tar"
    large.write_bytes(os.urandom(11 * 1024 * 1024))
    monkeypatch.setenv("S3_PART_SIZE", str(5 * 1024 * 1024))
    for key, value in backup.settings.items():
        if key.startswith(("S3_", "AWS_")):
            monkeypatch.setenv(key, str(value))
    run = subprocess.run([sys.executable, str(backup.lib / "advwell-backup-tool.py"), "upload", str(large),
                          f"s3://{backup.bucket}/{PREFIX}large.tar"], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert "-3 verified" in run.stderr
    stored = backup.s3.client().head_object(Bucket=backup.bucket, Key=f"{PREFIX}large.tar")
    assert stored["ContentLength"] == large.stat().st_size


def render_role_files(tmp_path, **variables):
    """The role's env file, service and timer, rendered by Ansible with the role's defaults (over
    the advwell role's, which it depends on)."""
    out = tmp_path / "rendered"
    out.mkdir()
    tasks = [{"name": f"Render {name}", "ansible.builtin.template": {
        "src": os.path.join(ROLE, "templates", f"{name}.j2"), "dest": str(out / name), "mode": mode}}
        for name, mode in (("backup.env", "0600"), ("restore.env", "0600"), ("backup-recipients.txt", "0644"),
                           ("advwell-backup.service", "0644"), ("advwell-backup.timer", "0644"),
                           ("advwell-json-export.service", "0644"), ("json-export.env", "0600"),
                           ("json-export.headers", "0600"))]
    playbook = tmp_path / "render.yml"
    playbook.write_text(json.dumps([{
        "hosts": "localhost", "connection": "local", "gather_facts": False,
        "vars_files": [os.path.join(ROLE, "..", "advwell", "defaults", "main.yml"), os.path.join(ROLE, "defaults", "main.yml")],
        "vars": {"ansible_python_interpreter": sys.executable}, "tasks": tasks}]))
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps(variables))  # extra vars: above the defaults in vars_files
    run = ansible("ansible-playbook", "-i", "localhost,", str(playbook), "-e", f"@{extra}")
    assert run.returncode == 0, run.stdout + run.stderr
    return out


def sourced(env_file, *names):
    script = f"set -a; source {env_file}; " + "; ".join(f'printf "%s\\n" "${name}"' for name in names)
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout.splitlines()


SECRETS = {"advwell_postgres_password": "pg secret with 'quotes' and $dollars",
           "advwell_backup_password": "backup secret with 'quotes' and $dollars",
           "advwell_s3_access_key": "AK", "advwell_s3_secret_key": "SK"}


def test_the_role_renders_a_daily_persistent_timer_and_a_private_env_file(tmp_path):
    out = render_role_files(tmp_path, **SECRETS)
    timer = (out / "advwell-backup.timer").read_text()
    assert "OnCalendar=*-*-* 03:00:00" in timer and "Persistent=true" in timer
    assert "ExecStart=/root/advwell-db/scripts/backup.sh" in (out / "advwell-backup.service").read_text()
    env = out / "backup.env"
    assert env.stat().st_mode & 0o777 == 0o600
    # Container mode: the tools run in the server's image, in its network namespace.
    assert sourced(env, "PGUSER", "PGPASSWORD", "PG_RUN", "S3_BUCKET", "S3_PREFIX", "LOCAL_DAYS", "S3_DAYS") == [
        "advwell_backup", SECRETS["advwell_backup_password"],
        "docker run --rm -i --network container:advwell-postgres --volume /root/advwell-db/backups:"
        "/root/advwell-db/backups --env PGHOST --env PGPORT --env PGUSER --env PGPASSWORD --env PGDATABASE "
        "postgres:16-alpine", "advwell-app", "backups/postgresql/", "7", "30"]
    names = [line.split("=", 1)[0] for line in env.read_text().splitlines() if line and not line.startswith("#")]
    assert len(names) == len(set(names)), names
    assert sourced(env, "METRICS_FILE", "DRILL_METRICS_FILE", "AGE_RECIPIENTS_FILE", "AGE_IDENTITY_FILE",
                   "SPACE_MARGIN") == [
        "/var/lib/prometheus/node-exporter/advwell_backup.prom",
        "/var/lib/prometheus/node-exporter/advwell_restore_drill.prom",
        "/etc/advwell/backup-recipients.txt", "/etc/advwell/backup-identity.txt", "2.5"]
    # The superuser's password is only in the restore's file.
    assert SECRETS["advwell_postgres_password"] not in env.read_text()
    restore_env = out / "restore.env"
    assert restore_env.stat().st_mode & 0o777 == 0o600
    assert sourced(restore_env, "RESTORE_PGUSER", "RESTORE_PGPASSWORD") == [
        "postgres", SECRETS["advwell_postgres_password"]]


def test_the_script_runs_with_the_env_file_the_role_renders(backup, tmp_path, postgres_server):
    """Host mode, pointed at the fixtures: the same script and env file as in production."""
    s3 = backup.s3
    out = render_role_files(
        tmp_path, db_backup_pg_mode="host", db_backup_host=postgres_server.host,
        advwell_db_port=postgres_server.port, db_backup_pg_bindir=str(backup.bindir),
        advwell_database=backup.dbname, db_backup_password=backup.settings["PGPASSWORD"],
        advwell_postgres_password=postgres_server.password,
        db_backup_age_recipients=[backup.age_key.recipient], db_backup_age_recipients_file=str(backup.recipients),
        db_backup_dir=str(backup.dir), db_backup_metrics_file=str(backup.metrics),
        db_backup_s3_bucket=backup.bucket, db_backup_s3_endpoint_url=s3.endpoint_url,
        db_backup_s3_region=s3.region, db_backup_s3_addressing_style="path",
        db_backup_s3_access_key=s3.access_key, db_backup_s3_secret_key=s3.secret_key)
    env = (out / "backup.env").read_text() + f"PYTHON={sys.executable}\n"
    backup.env_file.write_text(env)
    shutil.copy(out / "backup-recipients.txt", backup.recipients)
    process = subprocess.run([str(backup.script)], capture_output=True, text=True, timeout=120, check=False)
    assert process.returncode == 0, process.stderr
    [name] = backup.finished()
    assert backup.s3.client().head_object(Bucket=backup.bucket, Key=f"{PREFIX}{name}.tar.age")["ContentLength"] > 0


@pytest.fixture
def postgres_container(tmp_path):
    """The lab's PostgreSQL image as the database host runs it: the role's pg_hba.conf, the
    seed's data, nothing published."""
    # Not a skip: scripts/test always builds the image, and a missing one is a broken setup.
    assert subprocess.run(["docker", "image", "inspect", CONTAINER_IMAGE], capture_output=True, check=False).returncode == 0, \
        f"{CONTAINER_IMAGE} is missing: run scripts/test (it builds the lab images)"
    name = f"advwell-test-backup-{os.getpid()}"
    config = tmp_path / "pgconfig"
    config.mkdir()
    config.chmod(0o755)
    # Rendered by Ansible: the template uses the collection's filters.
    playbook = tmp_path / "hba.yml"
    playbook.write_text(json.dumps([{
        "hosts": "localhost", "connection": "local", "gather_facts": False,
        "vars": {"ansible_python_interpreter": sys.executable, "db_vps_app_address": "203.0.113.10"},
        "tasks": [{"ansible.builtin.template": {
            "src": os.path.join(REPO_ROOT, "roles", "db_vps", "templates", "pg_hba.conf.j2"),
            "dest": str(config / "pg_hba.conf"), "mode": "0644"}}]}]))
    run = ansible("ansible-playbook", "-i", "localhost,", str(playbook))
    assert run.returncode == 0, run.stdout + run.stderr
    (config / "pg_hba.conf").chmod(0o644)
    subprocess.run(["docker", "run", "-d", "--name", name, "-e", "POSTGRES_PASSWORD=container-secret",
                    "-e", "POSTGRES_DB=advtom", "-v", f"{config}:/etc/advwell:ro", CONTAINER_IMAGE,
                    "postgres", "-c", "hba_file=/etc/advwell/pg_hba.conf"], check=True, capture_output=True)
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(["docker", "exec", name, "psql", "-U", "postgres", "-d", "advtom", "-c", "SELECT 1"],
                             capture_output=True, check=False).returncode != 0:
            assert time.monotonic() < deadline, "the PostgreSQL container never accepted logins"
            time.sleep(0.5)
        subprocess.run(["docker", "exec", name, "advwell-datagen", "--dsn", "dbname=advtom user=postgres"],
                       check=True, capture_output=True)
        yield name
    finally:
        subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True, check=False)


CONTAINER_IMAGE = "advwell/postgres:15-lab"


@pytest.mark.docker
def test_container_mode_dumps_through_a_one_shot_container_of_the_servers_image(
        tmp_path, postgres_container, s3_server, s3_bucket, age_key):
    backups = tmp_path / "backups"
    metrics = tmp_path / "advwell_backup.prom"
    out = render_role_files(
        tmp_path, advwell_db_container=postgres_container, advwell_db_image=CONTAINER_IMAGE,
        db_backup_user="postgres", db_backup_password="container-secret", db_backup_dir=str(backups),
        db_backup_metrics_file=str(metrics), db_backup_age_recipients=[age_key.recipient],
        db_backup_age_recipients_file=str(tmp_path / "recipients.txt"),
        db_backup_s3_bucket=s3_bucket, db_backup_s3_endpoint_url=s3_server.endpoint_url,
        db_backup_s3_region=s3_server.region, db_backup_s3_addressing_style="path",
        db_backup_s3_access_key=s3_server.access_key, db_backup_s3_secret_key=s3_server.secret_key)
    lib = tmp_path / "lib"
    lib.mkdir()
    install_lib(lib)
    env_file = tmp_path / "backup.env"
    env_file.write_text((out / "backup.env").read_text() + f"PYTHON={sys.executable}\n")
    shutil.copy(out / "backup-recipients.txt", tmp_path / "recipients.txt")
    script = tmp_path / "backup.sh"
    script.write_text(render(os.path.join(ROLE, "templates", "advwell-backup.sh.j2"),
                             db_backup_env_file=str(env_file), db_backup_lib_dir=str(lib)))
    script.chmod(0o755)
    run = subprocess.run([str(script)], capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    [name] = [n for n in os.listdir(backups) if not n.startswith(".")]
    manifest = json.loads((backups / name / "manifest.json").read_text())
    assert {table: entry["rows"] for table, entry in manifest["tables"].items()} == SEED_ROWS
    assert "advwell_backup_success{stage=\"complete\"} 1" in metrics.read_text()


def systemd_exec_start(unit, env_file):
    """The unit's ExecStart as systemd runs it: the EnvironmentFile's variables, ${NAME}
    replaced, $$ made $, then split into words."""
    text = unit.read_text().replace("\\\n", " ")
    [line] = [line for line in text.splitlines() if line.startswith("ExecStart=")]
    environment = {}
    for entry in env_file.read_text().splitlines():
        if entry and not entry.startswith("#"):
            key, _sep, value = entry.partition("=")
            environment[key] = value
    command = re.sub(r"(?<!\$)\$\{(\w+)\}", lambda match: environment.get(match.group(1), ""),
                     line[len("ExecStart="):]).replace("$$", "$")
    return shlex.split(command), environment


def test_the_json_export_token_is_in_no_process_argv(tmp_path):
    """curl reads the bearer token from a file: while the export request is in flight, no
    process's command line holds it, and the endpoint still gets it."""
    token = "export-token-" + os.urandom(8).hex()
    arrived, release, seen = threading.Event(), threading.Event(), {}

    class Endpoint(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            seen["authorization"] = self.headers.get("Authorization")
            arrived.set()
            release.wait(30)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        out = tmp_path / "rendered"
        render_role_files(tmp_path, **SECRETS, db_backup_env_file=str(out / "backup.env"),
                          db_backup_json_export_url=f"http://127.0.0.1:{server.server_port}/api/export",
                          db_backup_json_export_token=token)
        command, environment = systemd_exec_start(out / "advwell-json-export.service", out / "json-export.env")
        assert (out / "json-export.headers").stat().st_mode & 0o777 == 0o600
        process = subprocess.Popen(command, env=dict(os.environ, **environment),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert arrived.wait(30), process.communicate(timeout=5)
            found = []
            for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
                try:
                    with open(cmdline, "rb") as handle:
                        if token.encode() in handle.read():
                            found.append(cmdline)
                except OSError:
                    pass  # the process ended meanwhile
            assert found == []
        finally:
            release.set()
            stdout, stderr = process.communicate(timeout=30)
        assert process.returncode == 0, stderr
        assert seen["authorization"] == f"Bearer {token}"
        assert token not in (out / "advwell-json-export.service").read_text()
        assert token not in (out / "json-export.env").read_text()
    finally:
        server.shutdown()


def test_the_role_creates_the_backups_login_with_pg_read_all_data_only(tmp_path, postgres_server):
    """tasks/database_role.yml against the PostgreSQL fixture (host mode): a login that is no
    superuser, creates neither roles nor databases, and is a member of pg_read_all_data only;
    a second run changes nothing; the password stays out of the output."""
    from tests.integration.ansible_run import run_role
    role, password = "advwell_backup_role_test", "role-test-secret-4711"
    variables = dict(db_backup_pg_mode="host", db_backup_host=postgres_server.host,
                     advwell_db_port=postgres_server.port, db_backup_user=role, db_backup_password=password,
                     advwell_db_superuser=postgres_server.user,
                     advwell_postgres_password=postgres_server.password,
                     ansible_python_interpreter=sys.executable)
    try:
        for attempt, changed in ((1, 2), (2, 0)):
            results, stats, run = run_role(tmp_path, "db_backup", "database_role", variables)
            assert run.returncode == 0, run.stdout + run.stderr
            assert stats["changed"] == changed, (attempt, [(r["task"], r["status"]) for r in results])
            assert password not in run.stdout + run.stderr
        [attributes] = postgres_server.query(
            "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls "
            f"FROM pg_roles WHERE rolname = '{role}'")
        assert attributes == (True, False, False, False, False, False)
        assert postgres_server.query(
            "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
            f"JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = '{role}'") == [("pg_read_all_data",)]
        login = subprocess.run([postgres_server.tool("psql"), "-X", "-At", "-h", postgres_server.host,
                                "-p", str(postgres_server.port), "-U", role, "-d", "postgres",
                                "-c", "SELECT count(*) FROM pg_authid"],  # what pg_dumpall --globals-only reads
                               capture_output=True, text=True, env=dict(os.environ, PGPASSWORD=password), check=False)
        assert login.returncode == 0 and int(login.stdout) > 0, login.stderr
    finally:
        postgres_server.execute(f'DROP ROLE IF EXISTS "{role}"')
