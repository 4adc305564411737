"""advwell/backend:lab runs app.py with Debian's psycopg2 and redis-py.

Needs both lab images built first (see the top of their Dockerfiles).
scripts/test builds them; a missing image fails. Everything started here is removed.
"""
import json
import time
import uuid
from dataclasses import dataclass, field

import pytest

from tests.lab.test_postgres_image import docker, wait_until_ready

BACKEND = "advwell/backend:lab"
POSTGRES = "advwell/postgres:15-lab"


@pytest.fixture(scope="module", autouse=True)
def images_are_built():
    for image in (BACKEND, POSTGRES):
        assert docker("image", "inspect", image, check=False).returncode == 0, \
            f"{image} is missing: run scripts/test (it builds the lab images)"


DATABASE_URL = "postgresql://advwell:stack-secret@db:5432/advwell"


@dataclass
class Stack:
    """A private network with a seeded advwell/postgres container reachable as 'db'."""
    network: str
    containers: list = field(default_factory=list)

    def _backend(self, *args):
        name = f"advwell-test-backend-{uuid.uuid4().hex[:10]}"
        self.containers.append(name)
        return name, ["--name", name, "--network", self.network,
                      "-e", f"DATABASE_URL={DATABASE_URL}", *args, BACKEND]

    def serve(self):
        name, args = self._backend()
        docker("run", "-d", *args)
        return name

    def migrate(self):
        _name, args = self._backend()
        return docker("run", *args, "python3", "/app/app.py", "migrate", check=False)


@pytest.fixture
def stack():
    suffix = uuid.uuid4().hex[:10]
    stack = Stack(f"advwell-test-{suffix}")
    database = f"advwell-test-db-{suffix}"
    stack.containers.append(database)
    docker("network", "create", stack.network)
    try:
        docker("run", "-d", "--name", database, "--network", stack.network,
               "--network-alias", "db", "-e", "POSTGRES_PASSWORD=stack-secret",
               "-e", "POSTGRES_USER=advwell", POSTGRES)
        wait_until_ready(database)
        docker("exec", database, "advwell-datagen", "--dsn", "dbname=advwell user=advwell")
        yield stack
    finally:
        for name in stack.containers:
            docker("rm", "-f", "-v", name, check=False)
        docker("network", "rm", stack.network, check=False)


def health_from_inside(name, timeout=30):
    probe = ("import json, urllib.request, urllib.error\n"
             "try:\n"
             "    r = urllib.request.urlopen('http://127.0.0.1:3000/health', timeout=5)\n"
             "except urllib.error.HTTPError as e:\n"
             "    r = e\n"
             "print(json.dumps([r.status, json.loads(r.read())]))\n")
    deadline = time.monotonic() + timeout
    while True:
        result = docker("exec", name, "python3", "-c", probe, check=False)
        if result.returncode == 0:
            return json.loads(result.stdout)
        if time.monotonic() > deadline:
            raise AssertionError(result.stderr)
        time.sleep(0.5)


def test_migrate_task_runs_twice(stack):
    for _round in range(2):
        result = stack.migrate()
        assert result.returncode == 0, result.stderr
        assert "stack-secret" not in result.stdout + result.stderr


def test_service_checks_the_database_and_stops_on_sigterm(stack):
    name = stack.serve()
    status, body = health_from_inside(name)
    # No Redis in this stack: the database is fine, the service is not healthy.
    assert status == 503
    assert body["database"] == "ok" and "not configured" in body["redis"]
    started = time.monotonic()
    docker("stop", "-t", "10", name)
    assert time.monotonic() - started < 5
    assert docker("inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip() == "0"
    assert "stack-secret" not in docker("logs", name).stderr
