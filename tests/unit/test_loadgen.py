"""The load generator's pure logic: sweep rates, stop rules, reading a sweep, the plan check."""
import pytest

from ansible_collections.advwell.platform.plugins.module_utils import loadgen
from ansible_collections.advwell.platform.plugins.modules.load_test import planned_run


def step(offered, throughput, p99, error_ratio=0.0):
    return dict(offered_rps=offered, throughput_rps=throughput, error_ratio=error_ratio,
                latency_ms=dict(p50=p99 / 2 if p99 else None, p99=p99))


def test_sweep_rates_rise_by_the_factor_up_to_the_stop():
    assert loadgen.sweep_rates(10, 1.5, 40) == [10.0, 15.0, 22.5, 33.75]
    assert loadgen.sweep_rates(10, 2, 40) == [10.0, 20.0, 40.0]


@pytest.mark.parametrize("args, message", [((0, 1.5, 10), "rates must be above 0"),
                                           ((10, 1.0, 40), "factor must be above 1")])
def test_sweep_rates_refuse_bad_bounds(args, message):
    with pytest.raises(loadgen.LoadError, match=message):
        loadgen.sweep_rates(*args)


def test_stop_reason_names_errors_or_latency():
    assert loadgen.stop_reason(step(10, 10, 50), 0.01, 500) is None
    assert "errors 5.0% at 10 req/s exceed 1.0%" in loadgen.stop_reason(step(10, 9, 50, 0.05), 0.01, 500)
    assert "p99 900 ms at 10 req/s exceeds 500 ms" in loadgen.stop_reason(step(10, 10, 900), 0.01, 500)


def test_read_sweep_finds_the_ceiling_and_the_knee():
    steps = [step(20, 20, 90), step(40, 40, 95), step(60, 52, 3000), step(80, 51, 6000, 0.3)]
    reading = loadgen.read_sweep(steps, generator_ceiling_rps=1000, slo_p99_ms=500,
                                 max_error_ratio=0.01)
    assert reading["ceiling_rps"] == 52 and reading["ceiling_offered_rps"] == 60
    assert reading["knee_rps"] == 40 and reading["knee_p99_ms"] == 95
    assert reading["generator_bound"] is False


def test_a_step_beyond_a_tenth_of_the_generators_ceiling_is_generator_bound():
    reading = loadgen.read_sweep([step(50, 50, 10), step(150, 150, 10)], 1000, 500, 0.01)
    assert [s["generator_bound"] for s in reading["steps"]] == [False, True]
    assert reading["generator_bound"] is True


def test_a_step_that_does_not_keep_up_is_not_the_knee_even_within_the_slo():
    reading = loadgen.read_sweep([step(20, 20, 50), step(40, 30, 100)], 1000, 500, 0.01)
    assert reading["knee_rps"] == 20


def test_the_knee_is_the_highest_rate_within_the_slo_whatever_the_order_of_the_steps():
    steps = [step(40, 40, 95), step(60, 52, 3000), step(20, 20, 90), step(48, 47, 300)]
    reading = loadgen.read_sweep(steps, 1000, 500, 0.01)
    assert reading["knee_rps"] == 48 and reading["knee_p99_ms"] == 300


def test_refining_rates_lie_between_the_last_step_within_the_slo_and_the_next_beyond_it():
    steps = [step(20, 20, 90), step(40, 40, 95), step(80, 60, 3000)]
    assert loadgen.refine_rates(steps, 500, 0.01, 1) == [56.57]
    assert loadgen.refine_rates(steps, 500, 0.01, 3) == [47.57, 56.57, 67.27]
    # The step above that is beyond only by its errors, or by not keeping up, counts too.
    assert loadgen.refine_rates([step(40, 40, 95), step(50, 50, 95, 0.05)], 500, 0.01, 1) == [44.72]
    assert loadgen.refine_rates([step(40, 40, 95), step(50, 45, 95)], 500, 0.01, 1) == [44.72]


@pytest.mark.parametrize("steps", [
    [step(20, 20, 90), step(40, 40, 95)],          # every step within: nothing above to close in on
    [step(20, 20, 900), step(40, 30, 3000)],       # none within: no knee below to start from
    [],
])
def test_no_refining_rates_without_a_step_within_the_slo_and_one_beyond_it(steps):
    assert loadgen.refine_rates(steps, 500, 0.01, 2) == []


def test_no_refining_rates_when_none_are_asked():
    assert loadgen.refine_rates([step(40, 40, 95), step(80, 60, 3000)], 500, 0.01, 0) == []


def test_read_sweep_of_nothing():
    reading = loadgen.read_sweep([], 1000, 500, 0.01)
    assert reading["ceiling_rps"] is None and reading["knee_rps"] is None


BASE = dict(url="http://127.0.0.1:8080/", mode="open", rates=[10, 20], step_seconds=30,
            warmup_seconds=5, concurrency=200, requests=None, seconds=None, max_in_flight=512,
            timeout=10, max_error_ratio=0.01, max_p99_ms=2000, slo_p99_ms=None, refine_steps=0,
            max_rate=2000, max_seconds=900, validate_certs=True)


def test_the_plan_of_a_sweep_and_of_a_closed_run():
    assert planned_run(BASE) == (dict(mode="open", rates=[10, 20], refine_steps=0, seconds=65,
                                      requests=900), None)
    refining = dict(BASE, slo_p99_ms=500, refine_steps=2)
    assert planned_run(refining) == (dict(mode="open", rates=[10, 20], refine_steps=2, seconds=125,
                                          requests=900), None)
    closed = dict(BASE, mode="closed", requests=5000)
    assert planned_run(closed) == (dict(mode="closed", concurrency=200, requests=5000,
                                        seconds=None), None)


@pytest.mark.parametrize("change, message", [
    (dict(url="http:///nohost"), "url: must be an http:// or https:// URL with a host"),
    (dict(max_in_flight=0), "max_in_flight: must be at least 1"),
    (dict(max_error_ratio=2), "max_error_ratio: must be between 0 and 1"),
    (dict(timeout=0), "timeout: must be above 0"),
    (dict(step_seconds=0), "step_seconds: must be above 0"),
    (dict(refine_steps=1), "refine_steps: must be 0 or more, and needs slo_p99_ms"),
    (dict(refine_steps=-1, slo_p99_ms=500), "refine_steps: must be 0 or more"),
    (dict(slo_p99_ms=-5), "slo_p99_ms: must be above 0"),
    (dict(mode="closed", requests=10, seconds=5), "requests: give either requests or seconds"),
    (dict(mode="closed", requests=0), "requests: must be at least 1"),
    (dict(mode="closed", concurrency=0, requests=5), "concurrency: must be at least 1"),
])
def test_the_plan_refuses_bad_input_naming_it(change, message):
    plan, problem = planned_run(dict(BASE, **change))
    assert plan is None and message in problem
