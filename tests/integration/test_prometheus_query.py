"""advwell.platform.prometheus_query against real Prometheus servers, both ways it reaches one:
`service`, a Prometheus Swarm service (the lab's monitoring image, Debian's package) asked with
its own promtool inside its task, the module run inside the Swarm manager's container; and
`url`, a Prometheus process on this machine's loopback asked over its HTTP API."""
import json
import time
from datetime import datetime, timezone

import pytest

from tests.fixtures.ports import free_port
from tests.fixtures.prometheus import self_scrape_config, wait_until_up
from tests.fixtures.swarm import docker
from tests.integration.ansible_run import run_module_cases

pytestmark = pytest.mark.docker

MODULE = "advwell.platform.prometheus_query"
IMAGE = "advwell/monitoring:lab"
SERVICE = "query-prometheus"
CONFIG = "query-prometheus-config"
# vector(42) answers at any time, also before the server started.
FIXED_TIME = 1796601086


class Swarmed:
    """The Prometheus service on the Swarm manager."""

    def __init__(self, manager):
        self.manager = manager

    def container(self):
        return self.manager.docker("ps", "-q", "--no-trunc", "--filter",
                                   f"label=com.docker.swarm.service.name={SERVICE}").stdout.split()

    def query(self, expression):
        """promtool's answer, asked with the Docker CLI (the test's own way in)."""
        containers = self.container()
        if not containers:
            return []
        return json.loads(self.manager.docker("exec", containers[0], "promtool", "query", "instant", "-o", "json",
                                              "http://localhost:9090", expression, check=False).stdout or "[]")


@pytest.fixture(scope="module")
def swarmed(swarm_manager):
    swarm_manager.load_image(IMAGE)
    made = Swarmed(swarm_manager)
    try:
        docker("exec", "-i", swarm_manager.container, "docker", "config", "create", CONFIG, "-",
               input=self_scrape_config("localhost:9090"))
        # As roles/monitoring runs it: the image's /bin/prometheus, data in /prometheus.
        swarm_manager.docker("service", "create", "--detach", "--name", SERVICE, "--replicas", "1",
                             "--stop-grace-period", "1s",
                             "--config", f"source={CONFIG},target=/etc/prometheus/prometheus.yml",
                             "--entrypoint", "/bin/prometheus", IMAGE,
                             "--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus",
                             "--web.listen-address=:9090")
        wait_until_up(made.query, f"service {SERVICE}", timeout=120)
        yield made
    finally:
        swarm_manager.docker("service", "rm", SERVICE, check=False)
        # The config can go once the task that uses it is gone.
        deadline = time.monotonic() + 30
        while swarm_manager.docker("config", "rm", CONFIG, check=False).returncode != 0:
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)


class Way:
    """How a test reaches its Prometheus: the args that name it, where the module runs, and the
    instance label of the server's own scrape target."""

    def __init__(self, target_args, host, instance):
        self.target_args = target_args
        self.host = host
        self.instance = instance

    def run_cases(self, tmp_path, cases):
        cases = [({**self.target_args, **case[0]}, case[1]) if isinstance(case, tuple) else {**self.target_args, **case}
                 for case in cases]
        return run_module_cases(tmp_path, MODULE, cases, host=self.host)[0]


@pytest.fixture(scope="module", params=["service", "url"])
def way(request):
    if request.param == "service":
        swarmed = request.getfixturevalue("swarmed")
        return Way({"service": SERVICE}, swarmed.manager.container, "localhost:9090")
    server = request.getfixturevalue("prometheus_server")
    return Way({"url": server.url}, None, server.target)


BAD_INPUT = [
    (dict(query="up", queries=[{"query": "up"}]), "parameters are mutually exclusive: query|queries"),
    (dict(), "one of the following is required: query, queries"),
    (dict(query="up", time="yesterday"), "time: must be epoch seconds"),
    (dict(queries=[{"query": "up", "time": "2026-13-01T00:00:00Z"}]),
     "queries[0].time: '2026-13-01T00:00:00Z' is not a valid date and time"),
    (dict(queries=[{"name": "no query"}]), "queries[0].query: must be a non-empty PromQL expression"),
    (dict(queries=[]), "queries: must not be empty"),
    (dict(query=""), "query: must be a non-empty PromQL expression"),
    (dict(query="up", timeout=0), "timeout: must be more than 0 seconds"),
]


@pytest.fixture(scope="module")
def asked(way, tmp_path_factory):
    """The way's cases, in one ansible-playbook (a start costs seconds): {"now": the time the
    queries case asks at, "queries": its queries, "up_checked", "up_again", "queries_result",
    "bad_promql_single", "bad_promql_batch": their results, "bad_input": BAD_INPUT's results}."""
    # A whole second after now: the server may have started within the current second, and a
    # query at a time before its first scrape finds no sample. (The cases run after it.)
    now = int(time.time()) + 1
    rfc3339 = datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    queries = [
        {"name": "up_now", "step": 0, "query": "up", "time": now},
        {"name": "count", "step": None, "query": 'count(up{job="prometheus"})', "time": rfc3339},
        {"query": "vector(42)", "time": FIXED_TIME, "extra": {"nested": [1, 2]}},
        {"query": "vector(7)", "time": f"{FIXED_TIME}.5"},
        {"query": "scalar(vector(3))", "time": FIXED_TIME},
        {"query": 'absent(up{job="nothing"}) * 0', "result": "replaced"},
    ]
    named = {
        "up_checked": ({"query": "up"}, True),
        "up_again": {"query": "up"},
        "queries_result": {"queries": queries},
        "bad_promql_single": {"query": "sum(up"},
        "bad_promql_batch": {"queries": [{"query": "up"}, {"query": "up{", "name": "broken"},
                                         {"query": "rate(up)", "name": "not_a_range"}]},
    }
    results = way.run_cases(tmp_path_factory.mktemp("asked"),
                            [*named.values(), *(args for args, _message in BAD_INPUT)])
    return {"now": now, "queries": queries, **dict(zip(named, results)), "bad_input": results[len(named):]}


def self_scrape(result):
    return [sample for sample in result if sample["metric"].get("job") == "prometheus"]


def test_up_gives_the_self_scrape_target_in_check_mode_and_again_unchanged(way, asked):
    checked, again = asked["up_checked"], asked["up_again"]
    for result in (checked, again):
        assert not result.get("failed"), result
        assert result["changed"] is False
        [sample] = self_scrape(result["result"])
        assert sample["metric"] == {"__name__": "up", "instance": way.instance, "job": "prometheus"}
        assert sample["value"][1] == "1"
        assert abs(sample["value"][0] - time.time()) < 120
        assert "results" not in result
    assert checked["result"][0]["value"][0] <= again["result"][0]["value"][0]


def test_queries_keep_their_keys_and_get_their_results(asked):
    now, queries, result = asked["now"], asked["queries"], asked["queries_result"]
    assert not result.get("failed"), result
    assert result["changed"] is False
    assert "result" not in result
    results = result["results"]
    assert [{key: value for key, value in item.items() if key != "result"} for item in results] == [
        {key: value for key, value in query.items() if key != "result"} for query in queries]
    [up] = self_scrape(results[0]["result"])
    assert (up["value"][0], up["value"][1]) == (now, "1")
    assert results[1]["result"] == [{"metric": {}, "value": [now, "1"]}]
    assert results[2]["result"] == [{"metric": {}, "value": [FIXED_TIME, "42"]}]
    assert results[3]["result"] == [{"metric": {}, "value": [FIXED_TIME + 0.5, "7"]}]
    assert results[4]["result"] == [FIXED_TIME, "3"]
    assert results[5]["result"] == [{"metric": {"job": "nothing"}, "value": [results[5]["result"][0]["value"][0], "0"]}]


def test_bad_promql_fails_naming_the_query(asked):
    single, batch = asked["bad_promql_single"], asked["bad_promql_batch"]
    assert single["failed"] is True
    assert single["msg"].startswith("1 query failed: query 'sum(up': ")
    assert "parse error" in single["msg"] and "bad_data" in single["msg"]
    assert batch["failed"] is True
    assert batch["msg"].startswith("2 queries failed: queries[1] (broken) 'up{': ")
    assert "queries[2] (not_a_range) 'rate(up)': " in batch["msg"]
    assert "range vector" in batch["msg"], "Prometheus's own error is given"
    assert "results" not in batch


def test_bad_input_fails_naming_the_parameter(asked):
    assert len(asked["bad_input"]) == len(BAD_INPUT)
    for (args, message), result in zip(BAD_INPUT, asked["bad_input"]):
        assert result.get("failed") is True, (args, result)
        assert message in result["msg"], (args, result["msg"])


def test_service_failures_are_named(tmp_path, swarmed):
    way = Way({}, swarmed.manager.container, None)
    no_task, no_promtool, both, unreachable = way.run_cases(tmp_path, [
        {"service": "query-nowhere", "query": "up"},
        {"service": SERVICE, "query": "up", "promtool": "/nonexistent/promtool"},
        {"service": SERVICE, "url": "http://127.0.0.1:9090", "query": "up"},
        {"service": SERVICE, "promtool_url": "http://localhost:1", "queries": [{"query": "up"}, {"query": "down"}]},
    ])
    assert no_task["failed"] is True
    assert no_task["msg"].startswith("service query-nowhere has no running task on this node")
    assert no_promtool["failed"] is True
    assert no_promtool["msg"].startswith(f"cannot run /nonexistent/promtool in task {SERVICE}.1.")
    assert no_promtool["container"] in swarmed.container()
    assert both["failed"] is True
    assert "parameters are mutually exclusive: url|service" in both["msg"]
    assert unreachable["failed"] is True
    assert unreachable["msg"].startswith("2 queries failed: queries[0] 'up', queries[1] 'down': query error: ")
    assert "connection refused" in unreachable["msg"]


def test_url_failures_are_named(tmp_path):
    port = free_port()
    unreachable, not_http = Way({}, None, None).run_cases(tmp_path, [
        {"url": f"http://127.0.0.1:{port}", "query": "up", "timeout": 5},
        {"url": "ftp://127.0.0.1/", "query": "up"},
    ])
    assert unreachable["failed"] is True
    assert unreachable["msg"].startswith(f"cannot reach Prometheus at http://127.0.0.1:{port}: ")
    assert "Connection refused" in unreachable["msg"]
    assert not_http["failed"] is True
    assert not_http["msg"] == "url: must be an http:// or https:// URL, got 'ftp://127.0.0.1/'"
