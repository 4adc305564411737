"""advwell.platform.load_test against a real HTTP server on loopback: the open loop corrects
coordinated omission (a one-second stall shows in its p99, not in a closed loop's), check
mode sends nothing, bad input is refused before any request, and the generator's own ceiling
on this machine is measured."""
import pytest

from ansible_collections.advwell.platform.plugins.module_utils import loadgen
from tests.integration.ansible_run import run_module


def test_a_stall_shows_in_the_open_loop_p99_and_not_in_the_closed_loop(http_server):
    timer = http_server.stall_later(1.5, 1.0)
    open_step = loadgen.run(lambda session: loadgen.open_loop(
        session, http_server.url, rate=200, seconds=4, max_in_flight=512), 512, 10)
    timer.join()
    timer = http_server.stall_later(1.5, 1.0)
    closed = loadgen.run(lambda session: loadgen.closed_loop(
        session, http_server.url, concurrency=2, seconds=4), 2, 10)
    timer.join()
    print(f"open loop: {open_step['latency_ms']}; closed loop: {closed['latency_ms']}, "
          f"{closed['sent']} requests")
    # 200 requests fell due during the stall, a quarter of the run: each waited up to 1 s.
    assert open_step["errors"] == {} and open_step["ok"] == 800
    assert open_step["latency_ms"]["p99"] >= 800
    assert open_step["latency_ms"]["p90"] >= 300
    # The closed loop's two clients sent nothing while they waited: two slow requests of
    # hundreds, so its p99 hides the stall that its max still shows.
    assert closed["latency_ms"]["max"] >= 900
    assert closed["latency_ms"]["p99"] < 100
    assert closed["sent"] > 400


def test_dropped_at_the_in_flight_bound_count_as_errors(http_server):
    http_server.stall(1.0)
    step = loadgen.run(lambda session: loadgen.open_loop(
        session, http_server.url, rate=100, seconds=0.5, max_in_flight=10), 10, 10)
    assert step["sent"] == 10
    assert step["errors"] == {"dropped": 40}
    assert step["error_ratio"] == 0.8


def test_http_errors_are_counted_by_status(http_server):
    step = loadgen.run(lambda session: loadgen.open_loop(
        session, http_server.url + "missing", rate=50, seconds=0.4, max_in_flight=10), 10, 10)
    assert step["errors"] == {"http_404": 20} and step["ok"] == 0
    assert step["latency_ms"]["p99"] is None


def test_the_sweep_stops_at_the_first_step_over_its_latency_limit(http_server):
    timer = http_server.stall_later(0.5 + 1.2, 1.0)  # during the second step, after the warm-up
    steps, reason, warmup = loadgen.run(lambda session: loadgen.sweep(
        session, http_server.url, [20, 40, 80], 1.0, 512, 0.01, 500, warmup_seconds=0.5), 512, 10)
    timer.join()
    assert [step["offered_rps"] for step in steps] == [20, 40]
    assert warmup["offered_rps"] == 20 and warmup["ok"] == 10
    assert reason.startswith("p99 ") and "at 40 req/s exceeds 500 ms" in reason


def test_refining_steps_measure_the_knee_between_the_last_step_within_the_slo_and_the_next(http_server):
    # /held serves 2 / 50 ms = 40 req/s. 20 req/s is half of that, within 300 ms also on a busy
    # machine; 80 is twice, and in a 2 s step its queue grows to about 80 requests. So the two
    # refining steps go between them, 20 x 4^(1/3) and 20 x 4^(2/3): 31.75, below the ceiling,
    # and 50.4, above it, which no machine serves at its rate. (The steps were once 10, 30, 60 in
    # 1 s: on a loaded CI machine 30 req/s, 75 % of the ceiling, missed the objective.)
    steps, reason, _warmup = loadgen.run(lambda session: loadgen.sweep(
        session, http_server.url + "held", [10, 20, 80], 2.0, 512, 0.01, 5000,
        slo_p99_ms=300, refine_steps=2), 512, 10)
    measured = [(step["offered_rps"], step["throughput_rps"], step["latency_ms"]["p99"]) for step in steps]
    assert reason is None
    assert [step["offered_rps"] for step in steps] == [10, 20, 31.75, 50.4, 80], measured
    assert [step.get("refined", False) for step in steps] == [False, False, True, True, False]
    within = [loadgen.within_slo(step, 300, 0.01) for step in steps]
    assert within[:2] == [True, True] and within[3:] == [False, False], measured
    reading = loadgen.read_sweep(steps, 0, 300, 0.01)
    # The knee is the highest step within the objective: the first refining one when the machine
    # served it in time (a quiet machine does), else the coarse step below it.
    assert reading["knee_rps"] == (31.75 if within[2] else 20), measured
    # The server's bound: it cannot serve more than 40 req/s; a starved machine serves it less.
    assert 30 <= reading["ceiling_rps"] <= 41, measured


def module(tmp_path, args, check_mode=False):
    result, _play = run_module(tmp_path, "advwell.platform.load_test", args, check_mode=check_mode)
    return result


def test_module_check_mode_sends_nothing_then_runs_then_runs_again(tmp_path, http_server):
    args = dict(url=http_server.url, rates=[50, 100], step_seconds=1)
    planned = module(tmp_path, args, check_mode=True)
    assert planned["changed"] is False and not planned.get("failed"), planned
    assert planned["planned"] == {"mode": "open", "rates": [50.0, 100.0], "refine_steps": 0,
                                  "seconds": 2.0, "requests": 150}
    assert "steps" not in planned and http_server.hits == 0
    for _round in range(2):
        result = module(tmp_path, args)
        assert result["changed"] is False and not result.get("failed"), result
        assert [step["offered_rps"] for step in result["steps"]] == [50.0, 100.0]
        assert [step["ok"] for step in result["steps"]] == [50, 100]
        assert result["stopped_because"] is None
    assert http_server.hits == 300


@pytest.mark.parametrize("args, message", [
    (dict(rates=[0, 10]), "rates: every rate must be above 0, got 0.0"),
    (dict(rates=[10, 5000]), "rates: 5000.0 req/s is above max_rate 2000"),
    (dict(rates=[10, 20], step_seconds=600), "above max_seconds 900"),
    (dict(), "rates: required with mode=open"),
    (dict(mode="closed", concurrency=10), "requests: give either requests or seconds"),
    (dict(mode="closed", seconds=5000), "seconds: must be above 0 and at most max_seconds 900"),
    (dict(rates=[10], url="ftp://127.0.0.1/"), "url: must be an http:// or https:// URL"),
    (dict(rates=["fast"]), "rates"),
    (dict(rates=[10, 20], refine_steps=2), "refine_steps: must be 0 or more, and needs slo_p99_ms"),
    (dict(rates=[10, 20], slo_p99_ms=0), "slo_p99_ms: must be above 0"),
    (dict(rates=[10, 20], step_seconds=400, slo_p99_ms=500, refine_steps=1), "rates: 3 steps of 400 s take 1200 s"),
])
def test_module_refuses_bad_input_before_any_request(tmp_path, http_server, args, message):
    result = module(tmp_path, dict(dict(url=http_server.url), **args))
    assert result.get("failed"), result
    assert message in result["msg"]
    assert http_server.hits == 0


def test_the_generators_own_ceiling_on_this_machine(tmp_path, http_server):
    result = module(tmp_path, dict(url=http_server.url, mode="closed", concurrency=32, seconds=2))
    step = result["steps"][0]
    print(f"generator ceiling against a trivial loopback server: {step['throughput_rps']:.0f} req/s")
    assert step["errors"] == {} and step["throughput_rps"] > 300
