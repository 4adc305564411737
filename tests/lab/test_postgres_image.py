"""advwell/postgres:15-lab honours the official postgres image's interface.

Needs the image built first:
    DOCKER_BUILDKIT=0 docker build -t advwell/postgres:15-lab -f lab/images/postgres/Dockerfile lab/
scripts/test builds it; a missing image is a failure, not a skip. Every container
is removed afterwards.
"""
import json
import os
import subprocess
import time
import uuid

import pytest

IMAGE = os.environ.get("ADVWELL_POSTGRES_IMAGE", "advwell/postgres:15-lab")


def docker(*args, check=True, timeout=120):
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {result.stderr}")
    return result


@pytest.fixture(scope="module", autouse=True)
def image_is_built():
    assert docker("image", "inspect", IMAGE, check=False).returncode == 0, \
        f"{IMAGE} is missing: run scripts/test (it builds the lab images)"


@pytest.fixture
def run_container():
    """run_container(*docker_run_args) -> name; all of them removed with their volumes."""
    names = []

    def run(*args):
        name = f"advwell-pg-test-{uuid.uuid4().hex[:10]}"
        names.append(name)
        docker("run", "-d", "--name", name, *args)
        return name

    yield run
    for name in names:
        docker("rm", "-f", "-v", name, check=False)


def wait_until_ready(name, timeout=90):
    """Waits for the final server: during initialisation it listens on no TCP port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if docker("exec", name, "pg_isready", "-q", "-h", "127.0.0.1", check=False).returncode == 0:
            return
        if docker("inspect", "-f", "{{.State.Running}}", name).stdout.strip() != "true":
            raise AssertionError(docker("logs", name, check=False).stderr)
        time.sleep(0.5)
    raise AssertionError(f"{name} not ready after {timeout}s")


def psql(name, sql, *options):
    result = docker("exec", *options, name, "psql", "-X", "-At", "-v", "ON_ERROR_STOP=1",
                    "-c", sql)
    return result.stdout.strip()


def test_server_options_pass_through_and_datagen_seeds(run_container):
    name = run_container("-e", "POSTGRES_PASSWORD=image-secret", "-e", "POSTGRES_USER=advwell",
                         "-e", "POSTGRES_DB=advwell", IMAGE,
                         "postgres", "-c", "max_connections=123", "-c", "shared_buffers=64MB")
    wait_until_ready(name)
    assert psql(name, "SHOW max_connections", "-u", "postgres", "-e", "PGUSER=advwell",
                "-e", "PGDATABASE=advwell") == "123"
    assert docker("exec", name, "ps", "-o", "user=,comm=", "-p", "1").stdout.split() == [
        "postgres", "postgres"]
    seeded = docker("exec", name, "advwell-datagen", "--dsn", "dbname=advwell user=advwell")
    assert json.loads(seeded.stdout.strip().splitlines()[-1])["schedule_events"] == 78


def test_leading_dash_arguments_are_postgres_options(run_container):
    name = run_container("-e", "POSTGRES_HOST_AUTH_METHOD=trust", IMAGE,
                         "-c", "max_connections=77")
    wait_until_ready(name)
    assert psql(name, "SHOW max_connections", "-e", "PGUSER=postgres") == "77"


def test_tcp_connections_need_the_password(run_container):
    name = run_container("-e", "POSTGRES_PASSWORD=image-secret", IMAGE)
    wait_until_ready(name)
    tcp = ("-e", "PGHOST=127.0.0.1", "-e", "PGUSER=postgres")
    assert psql(name, "SELECT 'in'", *tcp, "-e", "PGPASSWORD=image-secret") == "in"
    refused = docker("exec", *tcp, "-e", "PGPASSWORD=wrong", name, "psql", "-c", "SELECT 1",
                     check=False)
    assert "password authentication failed" in refused.stderr


def test_uninitialised_without_password_refuses_to_start(run_container):
    name = run_container(IMAGE)
    docker("wait", name, timeout=60)
    state = docker("inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip()
    assert state != "0"
    assert "POSTGRES_PASSWORD is not set" in docker("logs", name).stderr


def test_password_file_and_init_scripts(run_container, tmp_path):
    secrets = tmp_path / "secrets"
    scripts = tmp_path / "initdb"
    secrets.mkdir()
    scripts.mkdir()
    (secrets / "pg_password").write_text("file-secret\n")
    (scripts / "01-table.sql").write_text("CREATE TABLE from_sql (id int);\n")
    (scripts / "02-row.sh").write_text(
        'psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" '
        '-c "INSERT INTO from_sql VALUES (42)"\n')
    for path in (secrets, scripts, *secrets.iterdir(), *scripts.iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)
    name = run_container("-e", "POSTGRES_PASSWORD_FILE=/run/secrets/pg_password",
                         "-e", "POSTGRES_DB=firm",
                         "-v", f"{secrets}:/run/secrets:ro",
                         "-v", f"{scripts}:/docker-entrypoint-initdb.d:ro", IMAGE)
    wait_until_ready(name)
    assert psql(name, "SELECT id FROM from_sql", "-e", "PGHOST=127.0.0.1", "-e", "PGUSER=postgres",
                "-e", "PGDATABASE=firm", "-e", "PGPASSWORD=file-secret") == "42"
