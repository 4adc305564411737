"""Stand-in for the AdvWell backend: the same configuration, health check and
tenant-scoped reads as the real service, small enough to read in one sitting.

    python3 app.py            serve HTTP on $PORT (default 3000)
    python3 app.py migrate    create schedule_event_google_sync, then exit

Configuration (environment):
    DATABASE_URL | DATABASE_URL_FILE    PostgreSQL URL or libpq string; *_FILE for a Docker secret
    DB_POOL_SIZE (25)                   most pooled connections (idle ones are kept)
    DB_POOL_TIMEOUT (10)                seconds a request waits for a free connection
    APP_NAME (advwell-backend)          application_name seen in pg_stat_activity
    REDIS_URL                           redis://:password@host:6379/0
    REDIS_SENTINELS + REDIS_MASTER_NAME (mymaster)   "host:port,host:port" instead of REDIS_URL
    REDIS_PASSWORD | REDIS_PASSWORD_FILE             overrides the URL's password
    REDIS_SENTINEL_PASSWORD | REDIS_SENTINEL_PASSWORD_FILE   when the sentinels want one
    PORT (3000)
    MIGRATE_WAIT_SECONDS (30)           how long `migrate` waits for the database to answer
    CSRF_SECRET | CSRF_SECRET_FILE      key that signs CSRF tokens; every replica needs the
                                        same one (default: derived from the database URL)

State-changing requests (POST, PUT, PATCH, DELETE) need a CSRF token: GET
/api/csrf-token sets it as the cookie csrf_token and returns it; the request
sends the cookie and the same value in the X-CSRF-Token header (a signed
double-submit cookie). Without both, or with a token this key did not sign,
the answer is 403 before anything else runs.

Secrets (the database URL, passwords) never reach the log or a response.
"""
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlsplit

import psycopg2
import redis
import redis.sentinel

CHECK_TIMEOUT_SECONDS = 2
STATEMENT_TIMEOUT_MS = 15_000
TABLES = ("companies", "users", "clients", "cases", "schedule_events")
LIST_LIMIT = 100
MAX_BODY_BYTES = 64 * 1024
CSRF_COOKIE = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

log = logging.getLogger("advwell-backend")


# --- configuration ------------------------------------------------------------

def setting(name, default=None):
    """$NAME, else the content of the file named by $NAME_FILE (a Docker secret)."""
    value = os.environ.get(name)
    if value:
        return value
    path = os.environ.get(name + "_FILE")
    if path:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    return default


def int_setting(name, default):
    return int(os.environ.get(name) or default)


class Secrets:
    """Every secret value we were given, to blank out of any text we emit."""

    def __init__(self):
        self._values = set()

    def add(self, value):
        if value:
            self._values.add(value)

    def add_url_password(self, url):
        try:
            self.add(urlsplit(url).password)
        except ValueError:
            pass
        match = re.search(r"password\s*=\s*'?([^'\s]+)", url or "")
        if match:
            self.add(match.group(1))

    def redact(self, text):
        text = str(text)
        for value in sorted(self._values, key=len, reverse=True):
            text = text.replace(value, "***")
        return text


SECRETS = Secrets()


def database_target(url):
    """host:port/dbname for the log, from a URL or a key=value string."""
    if "://" in url:
        parts = urlsplit(url)
        return f"{parts.hostname}:{parts.port or 5432}{parts.path or '/'}"
    fields = dict(re.findall(r"(\w+)\s*=\s*'?([^'\s]*)", url))
    return f"{fields.get('host', 'local')}:{fields.get('port', 5432)}/{fields.get('dbname', '')}"


# --- database -----------------------------------------------------------------

class DatabaseUnavailable(Exception):
    pass


class Database:
    """Up to max_size pooled connections; callers wait for a free one.

    A semaphore of max_size turns "all connections are out" into a bounded
    wait. Idle connections are kept, and run in autocommit, so a query costs
    one round trip to the database host and never a new TLS session: the
    capacity model of phase 7 (pool x round trip) rests on that, as it does for
    the real backend's pool. The first connection is made on first use, so the
    service starts (and reports unhealthy) while the database is still down.
    """

    def __init__(self, url, max_size, wait_timeout, application_name):
        self.url = url
        self.max_size = max_size
        self.wait_timeout = wait_timeout
        self.application_name = application_name
        self._slots = threading.BoundedSemaphore(max_size)
        self._idle = []
        self._idle_lock = threading.Lock()
        self._in_use = 0
        self._in_use_lock = threading.Lock()

    @property
    def in_use(self):
        return self._in_use

    def _count_in_use(self, delta):
        with self._in_use_lock:
            self._in_use += delta

    def query(self, sql, params=(), timeout=None):
        """Rows of one read-only statement run on a pooled connection."""
        return self._with_slot(sql, params, timeout, write=False)

    def write(self, sql, params=()):
        """Rows of one statement that changes data (RETURNING ...), committed."""
        return self._with_slot(sql, params, None, write=True)

    def _with_slot(self, sql, params, timeout, write):
        if not self._slots.acquire(timeout=timeout or self.wait_timeout):
            raise DatabaseUnavailable(f"no free connection in the pool of {self.max_size}")
        self._count_in_use(+1)
        try:
            return self._run(sql, params, write)
        finally:
            self._count_in_use(-1)
            self._slots.release()

    def _connect(self):
        conn = psycopg2.connect(self.url, application_name=self.application_name,
                                connect_timeout=CHECK_TIMEOUT_SECONDS,
                                options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}")
        conn.autocommit = True
        return conn

    def _take(self):
        with self._idle_lock:
            if self._idle:
                return self._idle.pop()
        return self._connect()

    def _give_back(self, conn):
        if not conn.closed:
            with self._idle_lock:
                self._idle.append(conn)

    def _close_idle(self):
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _run(self, sql, params, write):
        for attempt in (1, 2):
            conn = self._take()
            try:
                with conn.cursor() as cur:
                    cur.execute(sql, params)
                    rows = cur.fetchall()
            except (psycopg2.OperationalError, psycopg2.InterfaceError):
                conn.close()
                # A connection breaks when the server restarted or ended its sessions:
                # the idle ones are gone too, so the retry opens a fresh one. A write may
                # have reached the database before the connection broke: only reads are
                # safe to run again.
                self._close_idle()
                if attempt == 2 or write:
                    raise
                continue
            except psycopg2.Error:
                self._give_back(conn)
                raise
            self._give_back(conn)
            return rows
        raise AssertionError("unreachable")

    def close(self):
        self._close_idle()


# --- redis --------------------------------------------------------------------

def make_redis_client():
    """A redis-py client from REDIS_URL or REDIS_SENTINELS, or None if neither is set."""
    password = setting("REDIS_PASSWORD")
    SECRETS.add(password)
    timeouts = dict(socket_timeout=CHECK_TIMEOUT_SECONDS,
                    socket_connect_timeout=CHECK_TIMEOUT_SECONDS)
    sentinels = os.environ.get("REDIS_SENTINELS")
    if sentinels:
        sentinel_password = setting("REDIS_SENTINEL_PASSWORD")
        SECRETS.add(sentinel_password)
        addresses = [parse_host_port(item) for item in sentinels.split(",") if item.strip()]
        sentinel = redis.sentinel.Sentinel(
            addresses, sentinel_kwargs=dict(password=sentinel_password, **timeouts), **timeouts)
        master_name = os.environ.get("REDIS_MASTER_NAME") or "mymaster"
        return sentinel.master_for(master_name, password=password, **timeouts)
    url = os.environ.get("REDIS_URL")
    if url:
        SECRETS.add_url_password(url)
        extra = dict(password=password) if password else {}
        return redis.Redis.from_url(url, **timeouts, **extra)
    return None


def parse_host_port(text):
    host, _sep, port = text.strip().rpartition(":")
    return host, int(port)


# --- CSRF ---------------------------------------------------------------------

class CsrfTokens:
    """Signed double-submit tokens: "<nonce>.<HMAC-SHA256 of the nonce>".

    Stateless, so a token from one replica is good at every replica that has
    the same key; a token someone made up fails the signature even when the
    cookie and the header agree.
    """

    def __init__(self, key):
        self._key = key

    @classmethod
    def from_settings(cls, database_url):
        secret = setting("CSRF_SECRET")
        SECRETS.add(secret)
        if secret:
            return cls(secret.encode())
        # Every replica has the database URL, and it is as secret as a key
        # needs to be; a different derivation keeps the two values unrelated.
        return cls(hashlib.sha256(b"advwell-csrf-key\0" + database_url.encode()).digest())

    def _sign(self, nonce):
        return hmac.new(self._key, nonce.encode(), hashlib.sha256).hexdigest()

    def issue(self):
        nonce = secrets.token_hex(16)
        return f"{nonce}.{self._sign(nonce)}"

    def problem(self, header_token, cookie_token):
        """Why the request's tokens are refused, or None when they are good."""
        if not header_token:
            return f"CSRF token missing: send the {CSRF_HEADER} header (GET /api/csrf-token)"
        if not cookie_token:
            return f"CSRF token missing: the {CSRF_COOKIE} cookie was not sent"
        # compare_digest takes str only when it is ASCII; bytes always.
        if not hmac.compare_digest(header_token.encode(), cookie_token.encode()):
            return f"CSRF token invalid: the {CSRF_HEADER} header and the cookie differ"
        nonce, _sep, signature = header_token.partition(".")
        if not hmac.compare_digest(signature.encode(), self._sign(nonce).encode()):
            return "CSRF token invalid: not issued by this service"
        return None


# --- HTTP ---------------------------------------------------------------------

class App:
    """What the handlers share: the pool, the Redis client, the counters."""

    def __init__(self, database, redis_client, csrf):
        self.database = database
        self.redis = redis_client
        self.csrf = csrf
        self.requests = {}
        self._lock = threading.Lock()

    def count_request(self, status):
        with self._lock:
            self.requests[status] = self.requests.get(status, 0) + 1

    def health(self):
        """'ok' or 'error: ...' for the database and for Redis, both within ~2 s."""
        checks = {"database": self._check_database, "redis": self._check_redis}
        results = {name: f"error: no answer within {CHECK_TIMEOUT_SECONDS}s" for name in checks}
        threads = [threading.Thread(target=self._run_check, args=(name, check, results),
                                    daemon=True) for name, check in checks.items()]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + CHECK_TIMEOUT_SECONDS + 0.5
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return dict(results)

    @staticmethod
    def _run_check(name, check, results):
        try:
            check()
            results[name] = "ok"
        except Exception as error:  # any failure is a health answer, not a crash
            lines = SECRETS.redact(error).strip().splitlines() or [type(error).__name__]
            results[name] = "error: " + lines[0]

    def _check_database(self):
        self.database.query("SELECT 1", timeout=CHECK_TIMEOUT_SECONDS)

    def _check_redis(self):
        if self.redis is None:
            raise RuntimeError("not configured (set REDIS_URL or REDIS_SENTINELS)")
        self.redis.ping()


TENANT_QUERIES = {
    "clients": """
        SELECT id, company_id, name, document, email, phone, created_at
        FROM public.clients WHERE company_id = %s ORDER BY id LIMIT %s""",
    "cases": """
        SELECT id, company_id, client_id, number, title, status, opened_at, description
        FROM public.cases WHERE company_id = %s ORDER BY id LIMIT %s""",
    "schedule-events": """
        SELECT id, company_id, case_id, user_id, title, kind, starts_at, ends_at, description
        FROM public.schedule_events WHERE company_id = %s ORDER BY starts_at, id LIMIT %s""",
}
TENANT_COLUMNS = {
    "clients": ("id", "company_id", "name", "document", "email", "phone", "created_at"),
    "cases": ("id", "company_id", "client_id", "number", "title", "status", "opened_at",
              "description"),
    "schedule-events": ("id", "company_id", "case_id", "user_id", "title", "kind", "starts_at",
                        "ends_at", "description"),
}
TENANT_PATH = re.compile(r"^/api/companies/(\d+)/(clients|cases|schedule-events)$")
NEW_CLIENT_FIELDS = {"name": True, "document": True, "email": False, "phone": False}


class BadRequest(Exception):
    pass


def json_value(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


class Handler(BaseHTTPRequestHandler):
    app = None  # set by serve()
    protocol_version = "HTTP/1.1"
    # Headers and body are two writes: without TCP_NODELAY, the body would wait for the
    # client's delayed ACK (40 ms on every kept-alive request).
    disable_nagle_algorithm = True

    def do_GET(self):
        self.answer(self.route)

    def do_POST(self):
        self.answer(self.route_change)

    do_PUT = do_PATCH = do_DELETE = do_POST

    def answer(self, router):
        path = self.path.split("?", 1)[0]
        self.extra_headers = []
        try:
            status, body = router(path)
        except BadRequest as error:
            status, body = 400, {"error": str(error)}
        except DatabaseUnavailable as error:
            status, body = 503, {"error": SECRETS.redact(error)}
        except psycopg2.Error as error:
            log.warning("database error on %s: %s", path, SECRETS.redact(error).strip())
            status, body = 503, {"error": "database error"}
        except Exception as error:
            log.error("failed on %s: %s: %s", path, type(error).__name__, SECRETS.redact(error))
            status, body = 500, {"error": "internal error"}
        self.respond(status, body)

    def route_change(self, path):
        """State-changing requests: the CSRF check comes before anything else."""
        payload = self.read_body()
        problem = self.app.csrf.problem(self.headers.get(CSRF_HEADER), self.cookie(CSRF_COOKIE))
        if problem:
            return 403, {"error": problem}
        match = TENANT_PATH.match(path)
        if match and match.group(2) == "clients" and self.command == "POST":
            return self.create_client(int(match.group(1)), payload)
        if match or path in ("/health", "/api/stats", "/api/csrf-token", "/metrics"):
            return 405, {"error": f"{self.command} is not allowed on {path}"}
        return 404, {"error": "not found"}

    def read_body(self):
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            self.close_connection = True  # the body is not read: the stream is out of step
            raise BadRequest(f"Content-Length must be 0 to {MAX_BODY_BYTES}")
        return self.rfile.read(length) if length else b""

    def cookie(self, name):
        try:
            morsel = SimpleCookie(self.headers.get("Cookie") or "").get(name)
        except CookieError:
            return None
        return morsel.value if morsel else None

    def route(self, path):
        if path == "/health":
            return self.health()
        if path == "/api/stats":
            return 200, self.stats()
        if path == "/metrics":
            return 200, self.metrics()
        if path == "/api/csrf-token":
            return 200, self.csrf_token()
        match = TENANT_PATH.match(path)
        if match:
            return self.tenant_rows(int(match.group(1)), match.group(2))
        return 404, {"error": "not found"}

    def health(self):
        results = self.app.health()
        healthy = all(state == "ok" for state in results.values())
        body = {"status": "healthy" if healthy else "unhealthy", **results}
        return (200 if healthy else 503), body

    def stats(self):
        counts = " UNION ALL ".join(
            f"SELECT '{table}', count(*) FROM public.{table}" for table in TABLES)
        return dict(self.app.database.query(counts))

    def tenant_rows(self, company_id, kind):
        database = self.app.database
        if not database.query("SELECT 1 FROM public.companies WHERE id = %s", (company_id,)):
            return 404, {"error": f"company {company_id} not found"}
        rows = database.query(TENANT_QUERIES[kind], (company_id, LIST_LIMIT))
        columns = TENANT_COLUMNS[kind]
        return 200, [{column: json_value(value) for column, value in zip(columns, row)}
                     for row in rows]

    def csrf_token(self):
        token = self.app.csrf.issue()
        self.extra_headers.append(
            ("Set-Cookie", f"{CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"))
        return {"csrf_token": token, "header": CSRF_HEADER}

    def create_client(self, company_id, payload):
        try:
            fields = json.loads(payload or b"{}")
        except ValueError as error:
            raise BadRequest(f"the body is not JSON: {error}") from None
        if not isinstance(fields, dict):
            raise BadRequest("the body must be a JSON object")
        unknown = sorted(set(fields) - set(NEW_CLIENT_FIELDS))
        if unknown:
            raise BadRequest(f"unknown fields: {', '.join(unknown)}")
        for name, required in NEW_CLIENT_FIELDS.items():
            value = fields.get(name)
            if (required or value is not None) and not (isinstance(value, str) and value.strip()):
                raise BadRequest(f"{name} must be a non-empty string")
        rows = self.app.database.write(
            """INSERT INTO public.clients (company_id, name, document, email, phone)
               SELECT id, %s, %s, %s, %s FROM public.companies WHERE id = %s
               RETURNING id, company_id, name, document, email, phone, created_at""",
            (fields["name"], fields["document"], fields.get("email"), fields.get("phone"),
             company_id))
        if not rows:
            return 404, {"error": f"company {company_id} not found"}
        return 201, {column: json_value(value)
                     for column, value in zip(TENANT_COLUMNS["clients"], rows[0])}

    def metrics(self):
        lines = ["# HELP advwell_http_requests_total HTTP requests answered, by status code.",
                 "# TYPE advwell_http_requests_total counter"]
        for status, count in sorted(self.app.requests.items()):
            lines.append(f'advwell_http_requests_total{{code="{status}"}} {count}')
        lines += ["# HELP advwell_db_pool_max_connections Most connections the pool opens.",
                  "# TYPE advwell_db_pool_max_connections gauge",
                  f"advwell_db_pool_max_connections {self.app.database.max_size}",
                  "# HELP advwell_db_pool_in_use_connections Connections lent out right now.",
                  "# TYPE advwell_db_pool_in_use_connections gauge",
                  f"advwell_db_pool_in_use_connections {self.app.database.in_use}",
                  "# HELP process_cpu_seconds_total User and system CPU time of the process.",
                  "# TYPE process_cpu_seconds_total counter",
                  f"process_cpu_seconds_total {sum(os.times()[:2]):.3f}"]
        return "\n".join(lines) + "\n"

    def respond(self, status, body):
        if isinstance(body, str):
            payload, content_type = body.encode(), "text/plain; version=0.0.4"
        else:
            payload, content_type = json.dumps(body).encode(), "application/json"
        self.app.count_request(status)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in self.extra_headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format, *args):  # noqa: A002 (BaseHTTPRequestHandler's name)
        log.info("%s %s", self.address_string(), SECRETS.redact(format % args))


def serve():
    url = setting("DATABASE_URL")
    if not url:
        log.error("DATABASE_URL (or DATABASE_URL_FILE) is not set")
        return 2
    SECRETS.add_url_password(url)
    database = Database(url, max_size=int_setting("DB_POOL_SIZE", 25),
                        wait_timeout=int_setting("DB_POOL_TIMEOUT", 10),
                        application_name=os.environ.get("APP_NAME") or "advwell-backend")
    Handler.app = App(database, make_redis_client(), CsrfTokens.from_settings(url))
    port = int_setting("PORT", 3000)
    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    server.daemon_threads = True

    def stop(signum, _frame):
        log.info("signal %s: shutting down", signal.Signals(signum).name)
        # shutdown() waits for serve_forever() to return, so not from its own thread.
        threading.Thread(target=server.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    log.info("listening on :%d, database %s, pool size %d, redis %s", port,
             database_target(url), database.max_size, redis_description())
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    database.close()
    log.info("stopped")
    return 0


def redis_description():
    if os.environ.get("REDIS_SENTINELS"):
        return (f"sentinels {os.environ['REDIS_SENTINELS']} "
                f"master {os.environ.get('REDIS_MASTER_NAME') or 'mymaster'}")
    url = os.environ.get("REDIS_URL")
    if url:
        parts = urlsplit(url)
        return f"{parts.hostname}:{parts.port or 6379}"
    return "not configured"


# --- migrate ------------------------------------------------------------------

GOOGLE_SYNC_DDL = """
CREATE TABLE IF NOT EXISTS public.schedule_event_google_sync (
    id                bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    schedule_event_id bigint      NOT NULL
                      REFERENCES public.schedule_events (id) ON DELETE CASCADE,
    company_id        bigint      NOT NULL REFERENCES public.companies (id) ON DELETE CASCADE,
    google_event_id   text        NOT NULL,
    synced_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT schedule_event_google_sync_event_key UNIQUE (schedule_event_id)
);
CREATE INDEX IF NOT EXISTS schedule_event_google_sync_company_idx
    ON public.schedule_event_google_sync (company_id);
"""
MIGRATION_LOCK_KEY = 4_207_001  # any constant: serialises concurrent migrate runs


def connect_with_retry(url, wait_seconds):
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return psycopg2.connect(url, connect_timeout=CHECK_TIMEOUT_SECONDS,
                                    application_name="advwell-migrate")
        except psycopg2.OperationalError as error:
            if time.monotonic() >= deadline:
                raise
            log.info("database not reachable yet (%s), retrying",
                     SECRETS.redact(error).strip().splitlines()[0])
            time.sleep(1)


def migrate():
    url = setting("DATABASE_URL")
    if not url:
        log.error("DATABASE_URL (or DATABASE_URL_FILE) is not set")
        return 2
    SECRETS.add_url_password(url)
    try:
        conn = connect_with_retry(url, int_setting("MIGRATE_WAIT_SECONDS", 30))
        try:
            with conn, conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
                cur.execute(GOOGLE_SYNC_DDL)
        finally:
            conn.close()
    except psycopg2.Error as error:
        log.error("migration failed: %s", SECRETS.redact(error).strip())
        return 1
    log.info("migration applied: schedule_event_google_sync is in place")
    return 0


def main(argv):
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    command = argv[1] if len(argv) > 1 else "serve"
    if command == "serve":
        return serve()
    if command == "migrate":
        return migrate()
    log.error("unknown command %r (serve | migrate)", command)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
