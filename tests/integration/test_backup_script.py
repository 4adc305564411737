"""roles/db_backup's backup script, rendered from its template and run for real against the
PostgreSQL fixture (the seed's AdvWell data) and SeaweedFS.

PostgreSQL's tools are reached through PG_BINDIR, so a test can put a wrapper in front of
pg_dump: one that writes while the dump runs (the manifest must describe the dump, not the
database afterwards), one that hangs until the run is stopped, one that dies.
"""
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from datetime import datetime, timedelta, timezone

import pytest

from tests.fixtures.backup import PREFIX, ROLE, db_fingerprint, install_lib, render, sha256
from tests.fixtures.ports import free_port
from tests.integration.ansible_run import REPO_ROOT, ansible

SEED_ROWS = {"public.companies": 10, "public.users": 21, "public.clients": 35,
             "public.cases": 31, "public.schedule_events": 78}


@pytest.mark.parametrize("template", ["advwell-backup.sh.j2", "advwell-restore.sh.j2"])
def test_the_rendered_scripts_are_shellcheck_clean(tmp_path, template):
    script = tmp_path / template[:-len(".sh.j2")]
    script.write_text(render(os.path.join(ROLE, "templates", template),
                             db_backup_env_file="/etc/advwell/backup.env",
                             db_backup_lib_dir="/usr/local/lib/advwell-backup"))
    run = subprocess.run(["shellcheck", "--severity=style", "--external-sources",
                          "--source-path", os.path.join(ROLE, "files"), str(script)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout


def test_a_backup_is_verified_described_and_uploaded(backup, postgres_server, tmp_path):
    before = db_fingerprint(postgres_server, backup.dbname)
    # Rows written while the dump runs (after the snapshot) belong to neither dump nor manifest.
    backup.wrap_pg_dump(f"[[ $* == *--snapshot=* ]] && {postgres_server.tool('psql')} -X -q -c "
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
    stored = client.get_object(Bucket=backup.bucket, Key=f"{PREFIX}{name}.tar")
    body = stored["Body"].read()
    assert stored["ContentLength"] == len(body)
    assert stored["Metadata"]["sha256"] == hashlib.sha256(body).hexdigest()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert tar.extractfile(f"{name}/manifest.json").read() == (final / "manifest.json").read_bytes()

    assert backup.metric("advwell_backup_success") == 'advwell_backup_success{stage="complete"} 1'
    assert abs(float(backup.metric("advwell_backup_last_success_timestamp_seconds").split()[1]) - time.time()) < 120
    assert int(backup.metric("advwell_backup_size_bytes").split()[1]) > 1024
    assert not list(backup.metrics.parent.glob("*.prom.*"))


def test_the_snapshot_is_released_before_the_upload(backup, tmp_path, postgres_server):
    """The held transaction would keep vacuum from cleaning up for as long as the upload takes."""
    seen = tmp_path / "open-transactions"
    python = tmp_path / "python"
    python.write_text(f"#!/bin/bash\n[ \"$2\" = upload ] && {postgres_server.tool('psql')} -X -At -c "
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
    output, _ = process.communicate(timeout=30)
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


def test_local_retention_never_removes_the_newest_good_backup(backup):
    names = [fake_backup(backup.dir, days) for days in (30, 20, 10)]
    (backup.dir / "advwell-advtom-notes").mkdir()  # not a backup: no manifest, left alone
    subprocess.run([sys.executable, str(backup.lib / "advwell-backup-tool.py"), "local-retention",
                    str(backup.dir), "--days", "7"], check=True)
    assert backup.finished() == sorted(["advwell-advtom-notes", names[-1]])


def test_a_good_run_prunes_old_local_and_s3_backups(backup):
    old = [fake_backup(backup.dir, days) for days in (9, 8)]
    client = backup.s3.client()
    for key in ("a.tar", "b.tar", "c.tar"):
        client.put_object(Bucket=backup.bucket, Key=PREFIX + key, Body=b"old")
        time.sleep(1.1)  # distinct LastModified seconds
    client.put_object(Bucket=backup.bucket, Key="elsewhere/x.tar", Body=b"other prefix")
    # S3_DAYS=0: everything but the 2 newest under the prefix goes.
    status, output = backup.run(S3_DAYS=0, S3_MIN_KEEP=2)
    assert status == 0, output
    [name] = backup.finished()
    assert name not in old
    keys = sorted(item["Key"] for item in client.list_objects_v2(Bucket=backup.bucket)["Contents"])
    assert keys == sorted([PREFIX + "c.tar", f"{PREFIX}{name}.tar", "elsewhere/x.tar"])


def test_a_large_upload_goes_in_parts_and_is_verified(backup, tmp_path, monkeypatch):
    large = tmp_path / "large.tar"
    large.write_bytes(os.urandom(11 * 1024 * 1024))
    monkeypatch.setenv("S3_PART_SIZE", str(5 * 1024 * 1024))
    for key, value in backup.settings.items():
        if key.startswith(("S3_", "AWS_")):
            monkeypatch.setenv(key, str(value))
    run = subprocess.run([sys.executable, str(backup.lib / "advwell-backup-tool.py"), "upload", str(large),
                          f"s3://{backup.bucket}/{PREFIX}large.tar"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "-3 verified" in run.stderr
    stored = backup.s3.client().head_object(Bucket=backup.bucket, Key=f"{PREFIX}large.tar")
    assert stored["ContentLength"] == large.stat().st_size


def render_role_files(tmp_path, **variables):
    """The role's env file, service and timer, rendered by Ansible with the role's defaults."""
    out = tmp_path / "rendered"
    out.mkdir()
    tasks = [{"name": f"Render {name}", "ansible.builtin.template": {
        "src": os.path.join(ROLE, "templates", f"{name}.j2"), "dest": str(out / name), "mode": mode}}
        for name, mode in (("backup.env", "0600"), ("advwell-backup.service", "0644"),
                           ("advwell-backup.timer", "0644"))]
    playbook = tmp_path / "render.yml"
    playbook.write_text(json.dumps([{
        "hosts": "localhost", "connection": "local", "gather_facts": False,
        "vars_files": [os.path.join(ROLE, "defaults", "main.yml")],
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
           "advwell_s3_access_key": "AK", "advwell_s3_secret_key": "SK"}


def test_the_role_renders_a_daily_persistent_timer_and_a_private_env_file(tmp_path):
    out = render_role_files(tmp_path, **SECRETS)
    timer = (out / "advwell-backup.timer").read_text()
    assert "OnCalendar=*-*-* 03:00:00" in timer and "Persistent=true" in timer
    assert "ExecStart=/root/advwell-db/scripts/backup.sh" in (out / "advwell-backup.service").read_text()
    env = out / "backup.env"
    assert env.stat().st_mode & 0o777 == 0o600
    # Container mode: the tools run in the server's image, in its network namespace.
    assert sourced(env, "PGPASSWORD", "PG_RUN", "S3_BUCKET", "S3_PREFIX", "LOCAL_DAYS", "S3_DAYS") == [
        SECRETS["advwell_postgres_password"],
        "docker run --rm -i --network container:advwell-postgres --volume /root/advwell-db/backups:"
        "/root/advwell-db/backups --env PGHOST --env PGPORT --env PGUSER --env PGPASSWORD --env PGDATABASE "
        "postgres:16-alpine", "advwell-app", "backups/postgresql/", "7", "30"]


def test_the_script_runs_with_the_env_file_the_role_renders(backup, tmp_path, postgres_server):
    """Host mode, pointed at the fixtures: the same script and env file as in production."""
    s3 = backup.s3
    out = render_role_files(
        tmp_path, db_backup_pg_mode="host", db_backup_host=postgres_server.host,
        db_backup_port=postgres_server.port, db_backup_pg_bindir=str(backup.bindir),
        db_backup_database=backup.dbname, db_backup_password=postgres_server.password,
        db_backup_dir=str(backup.dir), db_backup_metrics_file=str(backup.metrics),
        db_backup_s3_bucket=backup.bucket, db_backup_s3_endpoint_url=s3.endpoint_url,
        db_backup_s3_region=s3.region, db_backup_s3_addressing_style="path",
        db_backup_s3_access_key=s3.access_key, db_backup_s3_secret_key=s3.secret_key)
    env = (out / "backup.env").read_text() + f"PYTHON={sys.executable}\n"
    backup.env_file.write_text(env)
    process = subprocess.run([str(backup.script)], capture_output=True, text=True, timeout=120)
    assert process.returncode == 0, process.stderr
    [name] = backup.finished()
    assert backup.s3.client().head_object(Bucket=backup.bucket, Key=f"{PREFIX}{name}.tar")["ContentLength"] > 0


@pytest.fixture
def postgres_container(tmp_path):
    """The lab's PostgreSQL image as the database host runs it: the role's pg_hba.conf, the
    seed's data, nothing published."""
    # Not a skip: scripts/test always builds the image, and a missing one is a broken setup.
    assert subprocess.run(["docker", "image", "inspect", CONTAINER_IMAGE], capture_output=True).returncode == 0, \
        f"{CONTAINER_IMAGE} is missing: run scripts/test (it builds the lab images)"
    name = f"advwell-test-backup-{os.getpid()}"
    config = tmp_path / "pgconfig"
    config.mkdir()
    config.chmod(0o755)
    hba = render(os.path.join(REPO_ROOT, "roles", "db_vps", "templates", "pg_hba.conf.j2"),
                 ansible_managed="test", db_vps_app_address="203.0.113.10")
    (config / "pg_hba.conf").write_text(hba)
    (config / "pg_hba.conf").chmod(0o644)
    subprocess.run(["docker", "run", "-d", "--name", name, "-e", "POSTGRES_PASSWORD=container-secret",
                    "-e", "POSTGRES_DB=advtom", "-v", f"{config}:/etc/advwell:ro", CONTAINER_IMAGE,
                    "postgres", "-c", "hba_file=/etc/advwell/pg_hba.conf"], check=True, capture_output=True)
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(["docker", "exec", name, "psql", "-U", "postgres", "-d", "advtom", "-c", "SELECT 1"],
                             capture_output=True).returncode != 0:
            assert time.monotonic() < deadline, "the PostgreSQL container never accepted logins"
            time.sleep(0.5)
        subprocess.run(["docker", "exec", name, "advwell-datagen", "--dsn", "dbname=advtom user=postgres"],
                       check=True, capture_output=True)
        yield name
    finally:
        subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True)


CONTAINER_IMAGE = "advwell/postgres:15-lab"


@pytest.mark.docker
def test_container_mode_dumps_through_a_one_shot_container_of_the_servers_image(
        tmp_path, postgres_container, s3_server, s3_bucket):
    backups = tmp_path / "backups"
    metrics = tmp_path / "advwell_backup.prom"
    out = render_role_files(
        tmp_path, db_backup_container=postgres_container, db_backup_image=CONTAINER_IMAGE,
        db_backup_password="container-secret", db_backup_dir=str(backups), db_backup_metrics_file=str(metrics),
        db_backup_s3_bucket=s3_bucket, db_backup_s3_endpoint_url=s3_server.endpoint_url,
        db_backup_s3_region=s3_server.region, db_backup_s3_addressing_style="path",
        db_backup_s3_access_key=s3_server.access_key, db_backup_s3_secret_key=s3_server.secret_key)
    lib = tmp_path / "lib"
    lib.mkdir()
    install_lib(lib)
    env_file = tmp_path / "backup.env"
    env_file.write_text((out / "backup.env").read_text() + f"PYTHON={sys.executable}\n")
    script = tmp_path / "backup.sh"
    script.write_text(render(os.path.join(ROLE, "templates", "advwell-backup.sh.j2"),
                             db_backup_env_file=str(env_file), db_backup_lib_dir=str(lib)))
    script.chmod(0o755)
    run = subprocess.run([str(script)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    [name] = [n for n in os.listdir(backups) if not n.startswith(".")]
    manifest = json.loads((backups / name / "manifest.json").read_text())
    assert {table: entry["rows"] for table, entry in manifest["tables"].items()} == SEED_ROWS
    assert "advwell_backup_success{stage=\"complete\"} 1" in metrics.read_text()
