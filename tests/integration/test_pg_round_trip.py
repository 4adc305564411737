"""advwell.platform.pg_round_trip against a real PostgreSQL, directly and through the lab's
latency proxy (lab/latency_proxy.py): the proxy adds the round trip it is told, within 10%,
which is what phase 7's capacity test relies on to stand in for the 85 ms between the hosts."""
import os
import subprocess
import sys

import pytest

from tests.fixtures.ports import free_port, wait_for_port
from tests.fixtures.process import stop_process
from tests.integration.ansible_run import REPO_ROOT, run_module

PROXY = os.path.join(REPO_ROOT, "lab", "latency_proxy.py")


def round_trip(tmp_path, server, port=None, check_mode=False, **extra):
    args = dict(login_host=server.host, login_port=port or server.port, login_user=server.user,
                login_password=server.password, **extra)
    result, run = run_module(tmp_path, "advwell.platform.pg_round_trip", args,
                             check_mode=check_mode)
    assert server.password not in run.stdout + run.stderr
    return result


@pytest.fixture
def latency_proxy(postgres_server):
    """The proxy in front of the fixture's server, 20 ms each way (a 40 ms round trip)."""
    port = free_port()
    process = subprocess.Popen([sys.executable, PROXY, "--listen", f"127.0.0.1:{port}",
                                "--connect", f"{postgres_server.host}:{postgres_server.port}",
                                "--delay-ms", "20"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wait_for_port(port)
    yield port
    stop_process(process)


def test_direct_round_trip_is_fast_in_check_mode_and_out(tmp_path, postgres_server):
    for check_mode in (True, False, False):
        result = round_trip(tmp_path, postgres_server, check_mode=check_mode, samples=10)
        assert not result.get("failed") and result["changed"] is False, result
        assert len(result["samples_ms"]) == 10
        assert result["min_ms"] <= result["median_ms"] <= result["max_ms"] < 20


def test_the_proxy_adds_the_configured_round_trip(tmp_path, postgres_server, latency_proxy):
    result = round_trip(tmp_path, postgres_server, port=latency_proxy, samples=15)
    assert not result.get("failed"), result
    print(f"through the 20 ms + 20 ms proxy: {result['samples_ms']}")
    assert 36 <= result["median_ms"] <= 44
    assert result["min_ms"] >= 39


@pytest.mark.parametrize("extra, message", [
    (dict(samples=0), "samples: must be 1 to 10000, got 0"),
    (dict(login_password="wrong-pw-51c2"), "password authentication failed"),
    (dict(samples="many"), "samples"),
])
def test_bad_input_is_refused_naming_it(tmp_path, postgres_server, extra, message):
    args = dict(login_host=postgres_server.host, login_port=postgres_server.port,
                login_user=postgres_server.user, login_password=postgres_server.password)
    args.update(extra)
    result, run = run_module(tmp_path, "advwell.platform.pg_round_trip", args)
    assert result.get("failed") and message in result["msg"], result
    assert "wrong-pw-51c2" not in run.stdout + run.stderr
