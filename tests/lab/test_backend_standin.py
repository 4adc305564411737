"""lab/images/backend/app.py run as a host process against real PostgreSQL and Redis."""
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

import pytest

from tests.fixtures.ports import free_port, wait_for_port
from tests.fixtures.process import stop_process


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
APP = os.path.join(REPO, "lab", "images", "backend", "app.py")
DATAGEN = os.path.join(REPO, "lab", "datagen", "advwell_datagen.py")


@dataclass
class Backend:
    process: subprocess.Popen
    port: int
    log_path: str

    def get(self, path, timeout=10):
        """(status, decoded JSON or text) of GET path."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}",
                                        timeout=timeout) as response:
                return response.status, decode(response)
        except urllib.error.HTTPError as error:
            return error.code, decode(error)

    def request(self, method, path, body=None, headers=None, timeout=10):
        """(status, decoded JSON or text, response headers) of any request."""
        data = json.dumps(body).encode() if body is not None else b""
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data,
                                         method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, decode(response), response.headers
        except urllib.error.HTTPError as error:
            return error.code, decode(error), error.headers

    def csrf(self):
        """(token, the headers that carry it as cookie and header) from /api/csrf-token."""
        status, body, headers = self.request("GET", "/api/csrf-token")
        assert status == 200
        cookie = headers["Set-Cookie"]
        assert cookie.startswith(f"csrf_token={body['csrf_token']};")
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        token = body["csrf_token"]
        return token, {"Cookie": f"csrf_token={token}", "X-CSRF-Token": token}

    def output(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def stop(self):
        stop_process(self.process)


def decode(response):
    body = response.read().decode()
    if response.headers.get("Content-Type", "").startswith("application/json"):
        return json.loads(body)
    return body


@pytest.fixture(scope="module")
def seeded_db(postgres_server):
    """The seed's rows (10 companies), shared by this module's tests: they only read."""
    name = postgres_server.create_database("lab_backend_standin")
    subprocess.run([sys.executable, DATAGEN, "--dsn", postgres_server.dsn(name)],
                   check=True, capture_output=True, timeout=120)
    yield name
    postgres_server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def start_backend(tmp_path, postgres_server, seeded_db):
    """start_backend(**env) runs app.py on a free port; every one is stopped afterwards."""
    started = []

    def start(redis=None, **env):
        port = free_port()
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PORT": str(port),
            "DATABASE_URL": postgres_server.url(seeded_db),
            **({"REDIS_URL": redis.url} if redis else {}),
            **env,
        }
        log_path = str(tmp_path / f"backend-{port}.log")
        with open(log_path, "w") as log:
            process = subprocess.Popen([sys.executable, APP], env=environment,
                                       stdout=log, stderr=subprocess.STDOUT)
        backend = Backend(process, port, log_path)
        started.append(backend)
        wait_for_port(port, timeout=15)
        return backend

    yield start
    for backend in started:
        backend.stop()


def company_ids(postgres_server, dbname, table, company_id, order="id"):
    conn = postgres_server.connect(dbname)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT id FROM {table} WHERE company_id = %s ORDER BY {order} LIMIT 100",
                        (company_id,))
            return [row[0] for row in cur.fetchall()]
    finally:
        conn.close()


def test_health_is_ok_when_database_and_redis_answer(start_backend, redis_server):
    backend = start_backend(redis=redis_server)
    assert backend.get("/health") == (200, {"status": "healthy", "database": "ok", "redis": "ok"})


def test_health_is_503_once_redis_stops(start_backend, redis_instance):
    backend = start_backend(redis=redis_instance)
    assert backend.get("/health")[0] == 200
    redis_instance.stop()
    started = time.monotonic()
    status, body = backend.get("/health")
    assert time.monotonic() - started < 4
    assert status == 503
    assert body["status"] == "unhealthy"
    assert body["database"] == "ok"
    assert body["redis"].startswith("error")


def test_health_is_503_when_the_database_is_unreachable(start_backend, redis_server):
    closed_port = free_port()
    backend = start_backend(redis=redis_server,
                            DATABASE_URL=f"postgresql://advwell:x@127.0.0.1:{closed_port}/advwell")
    status, body = backend.get("/health")
    assert status == 503
    assert body["database"].startswith("error")
    assert body["redis"] == "ok"


def test_health_is_503_without_redis_settings(start_backend):
    status, body = start_backend().get("/health")
    assert status == 503
    assert "not configured" in body["redis"]


def test_redis_through_sentinel(start_backend, redis_sentinel, redis_instance):
    backend = start_backend(REDIS_SENTINELS=f"127.0.0.1:{redis_sentinel.port}",
                            REDIS_MASTER_NAME="mymaster",
                            REDIS_PASSWORD=redis_instance.password)
    assert backend.get("/health")[0] == 200


@pytest.mark.parametrize("kind, table, order", [
    ("clients", "clients", "id"),
    ("cases", "cases", "id"),
    ("schedule-events", "schedule_events", "starts_at, id"),
])
def test_tenant_endpoints_return_only_that_company(start_backend, postgres_server, seeded_db,
                                                   kind, table, order):
    backend = start_backend()
    for company_id in (1, 2, 10):
        status, rows = backend.get(f"/api/companies/{company_id}/{kind}")
        assert status == 200
        assert {row["company_id"] for row in rows} == {company_id}
        assert [row["id"] for row in rows] == company_ids(postgres_server, seeded_db, table, company_id, order)


def test_unknown_company_and_path_are_404(start_backend):
    backend = start_backend()
    assert backend.get("/api/companies/999/clients")[0] == 404
    assert backend.get("/api/companies/abc/clients")[0] == 404
    assert backend.get("/api/nothing")[0] == 404


def test_stats_counts_rows_per_table(start_backend):
    assert start_backend().get("/api/stats") == (200, {
        "companies": 10, "users": 21, "clients": 35, "cases": 31, "schedule_events": 78})


def test_metrics_are_prometheus_text(start_backend):
    backend = start_backend(DB_POOL_SIZE="7")
    backend.get("/api/stats")
    status, text = backend.get("/metrics")
    assert status == 200
    assert 'advwell_http_requests_total{code="200"} 1' in text
    assert "advwell_db_pool_max_connections 7" in text
    # Phase 7 divides this counter by the requests to measure the CPU time a request costs.
    assert re.search(r"^process_cpu_seconds_total \d+\.\d{3}$", text, re.MULTILINE)


def connections_of(postgres_server, application_name):
    conn = postgres_server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                        (application_name,))
            return cur.fetchone()[0]
    finally:
        conn.close()


def test_pool_never_opens_more_than_db_pool_size(start_backend, postgres_server, seeded_db):
    pool_size, requests = 3, 12
    app_name = f"advwell-pool-test-{os.getpid()}"
    backend = start_backend(DB_POOL_SIZE=str(pool_size), APP_NAME=app_name)
    # A lock on clients keeps every request that got a connection busy, so the
    # others have to wait for the pool rather than open more connections.
    locker = postgres_server.connect(seeded_db)
    locker.autocommit = False
    statuses = []
    try:
        with locker.cursor() as cur:
            cur.execute("LOCK TABLE clients IN ACCESS EXCLUSIVE MODE")
        threads = [threading.Thread(target=lambda: statuses.append(
            backend.get("/api/companies/1/clients", timeout=30)[0])) for _request in range(requests)]
        for thread in threads:
            thread.start()
        samples = []
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            samples.append(connections_of(postgres_server, app_name))
            time.sleep(0.05)
    finally:
        locker.rollback()
        locker.close()
    for thread in threads:
        thread.join(timeout=30)
    assert max(samples) == pool_size
    assert statuses == [200] * requests


def test_idle_connections_are_kept_for_the_next_requests(start_backend, postgres_server,
                                                         seeded_db):
    """A request reuses a pooled connection (one round trip per query, no new TLS session):
    after a burst that used the whole pool, every connection stays open and is reused."""
    pool_size = 3
    app_name = f"advwell-idle-test-{os.getpid()}"
    backend = start_backend(DB_POOL_SIZE=str(pool_size), APP_NAME=app_name)
    locker = postgres_server.connect(seeded_db)
    locker.autocommit = False
    try:
        with locker.cursor() as cur:
            cur.execute("LOCK TABLE clients IN ACCESS EXCLUSIVE MODE")
        threads = [threading.Thread(target=backend.get, args=("/api/companies/1/clients",),
                                    kwargs={"timeout": 30}) for _connection in range(pool_size)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while connections_of(postgres_server, app_name) < pool_size:
            assert time.monotonic() < deadline, "the burst never used the whole pool"
            time.sleep(0.05)
    finally:
        locker.rollback()
        locker.close()
    for thread in threads:
        thread.join(timeout=30)
    before = backend_pids(postgres_server, app_name)
    for _round in range(5):
        assert backend.get("/api/companies/1/clients")[0] == 200
    assert len(before) == pool_size
    assert backend_pids(postgres_server, app_name) == before


def backend_pids(postgres_server, application_name):
    conn = postgres_server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                        (application_name,))
            return {row[0] for row in cur.fetchall()}
    finally:
        conn.close()


def test_requests_survive_pooled_connections_being_killed(start_backend, postgres_server):
    app_name = f"advwell-kill-test-{os.getpid()}"
    backend = start_backend(APP_NAME=app_name)
    assert backend.get("/api/stats")[0] == 200
    conn = postgres_server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE application_name = %s", (app_name,))
            assert cur.fetchone()[0] >= 1
    finally:
        conn.close()
    assert backend.get("/api/stats")[0] == 200


def test_secrets_never_reach_the_output(start_backend, postgres_server, seeded_db, redis_server,
                                        tmp_path):
    secret_file = tmp_path / "database_url"
    secret_file.write_text(postgres_server.url(seeded_db) + "\n")
    good = start_backend(redis=redis_server, DATABASE_URL="",
                         DATABASE_URL_FILE=str(secret_file))
    wrong_password = "wrong-pw-7f3a9c"
    bad = start_backend(redis=redis_server, DATABASE_URL=(
        f"postgresql://postgres:{wrong_password}@127.0.0.1:{postgres_server.port}/{seeded_db}"))
    assert good.get("/health")[0] == 200
    assert good.get("/api/companies/1/cases")[0] == 200
    status, body = bad.get("/health")
    assert status == 503 and "password authentication failed" in body["database"]
    assert wrong_password not in json.dumps(body)
    good.stop()
    bad.stop()
    output = good.output() + bad.output()
    assert "listening on" in output
    for secret in (postgres_server.password, wrong_password, redis_server.password):
        assert secret not in output


def test_sigterm_stops_the_service_promptly(start_backend):
    backend = start_backend()
    backend.process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    assert backend.process.wait(timeout=5) == 0
    assert time.monotonic() - started < 3


def test_migrate_is_idempotent(postgres_server, seeded_db):
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                   "DATABASE_URL": postgres_server.url(seeded_db)}
    for _round in range(2):
        result = subprocess.run([sys.executable, APP, "migrate"], env=environment,
                                capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stderr
        assert postgres_server.password not in result.stdout + result.stderr
    conn = postgres_server.connect(seeded_db)
    try:
        with conn.cursor() as cur:
            cur.execute("""SELECT confrelid::regclass::text FROM pg_constraint
                           WHERE conrelid = 'public.schedule_event_google_sync'::regclass
                             AND contype = 'f' ORDER BY 1""")
            assert [row[0] for row in cur.fetchall()] == ["companies", "schedule_events"]
    finally:
        conn.close()


@pytest.fixture
def writable_db(postgres_server):
    """A database of its own for the tests that add rows (seeded_db is read-only)."""
    name = postgres_server.create_database("lab_backend_writes")
    subprocess.run([sys.executable, DATAGEN, "--dsn", postgres_server.dsn(name), "--offices", "2"],
                   check=True, capture_output=True, timeout=120)
    yield name
    postgres_server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def client_count(postgres_server, dbname):
    return postgres_server.query("SELECT count(*) FROM public.clients", dbname)[0][0]


NEW_CLIENT = {"name": "Escritorio Teste", "document": "12.345.678/0001-90"}


def test_state_changing_requests_without_a_good_csrf_token_are_403(start_backend,
                                                                   postgres_server, writable_db):
    backend = start_backend(DATABASE_URL=postgres_server.url(writable_db))
    token, _headers = backend.csrf()
    nonce = token.split(".")[0]
    forged = f"{nonce}.{'0' * 64}"
    before = client_count(postgres_server, writable_db)
    refusals = {
        "no token": {},
        "header only": {"X-CSRF-Token": token},
        "cookie only": {"Cookie": f"csrf_token={token}"},
        "header and cookie differ": {"X-CSRF-Token": token, "Cookie": f"csrf_token={forged}"},
        "forged in both": {"X-CSRF-Token": forged, "Cookie": f"csrf_token={forged}"},
        "not ASCII": {"X-CSRF-Token": "\u00e9", "Cookie": "csrf_token=x"},
    }
    for case, headers in refusals.items():
        status, body, _headers = backend.request("POST", "/api/companies/1/clients", NEW_CLIENT, headers)
        assert (status, body["error"].split(":")[0]) in {
            (403, "CSRF token missing"), (403, "CSRF token invalid")}, case
    for method in ("PUT", "PATCH", "DELETE"):
        assert backend.request(method, "/api/companies/1/clients/1")[0] == 403
    assert backend.request("POST", "/api/nothing")[0] == 403
    assert client_count(postgres_server, writable_db) == before


def test_a_csrf_token_lets_a_client_be_created(start_backend, postgres_server, writable_db):
    backend = start_backend(DATABASE_URL=postgres_server.url(writable_db))
    _token, headers = backend.csrf()
    before = client_count(postgres_server, writable_db)
    status, row, _headers = backend.request("POST", "/api/companies/2/clients", NEW_CLIENT, headers)
    assert status == 201
    assert (row["company_id"], row["name"], row["document"]) == (2, *NEW_CLIENT.values())
    assert client_count(postgres_server, writable_db) == before + 1
    assert row["id"] in [client["id"] for client in backend.get("/api/companies/2/clients")[1]]

    assert backend.request("POST", "/api/companies/999/clients", NEW_CLIENT, headers)[0] == 404
    assert backend.request("POST", "/api/companies/2/clients", {"name": "x"}, headers)[:2] == (
        400, {"error": "document must be a non-empty string"})
    assert backend.request("POST", "/api/companies/2/clients", {**NEW_CLIENT, "id": 1},
                           headers)[:2] == (400, {"error": "unknown fields: id"})
    assert backend.request("DELETE", "/api/companies/2/clients", None, headers)[0] == 405
    assert client_count(postgres_server, writable_db) == before + 1


def test_csrf_tokens_hold_across_replicas_with_the_same_key(start_backend):
    key = "csrf-key-4b1d"
    first, second = start_backend(CSRF_SECRET=key), start_backend(CSRF_SECRET=key)
    other = start_backend(CSRF_SECRET="another-key")
    default_a, default_b = start_backend(), start_backend()
    _token, headers = first.csrf()
    # Past the CSRF check, a missing body field is the next answer (400, not 403).
    assert second.request("POST", "/api/companies/1/clients", {}, headers)[0] == 400
    assert other.request("POST", "/api/companies/1/clients", {}, headers)[0] == 403
    # Without CSRF_SECRET the key comes from the database URL, the same for both.
    _token, headers = default_a.csrf()
    assert default_b.request("POST", "/api/companies/1/clients", {}, headers)[0] == 400
    for backend in (first, second, other):
        backend.stop()
        assert key not in backend.output()
