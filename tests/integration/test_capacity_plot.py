"""advwell.platform.capacity_plot: check mode writes nothing, the PNG opens with the data's size,
the same data again changes nothing, new data does, and bad steps are refused naming them."""
import pytest
from PIL import Image

from tests.integration.ansible_run import run_module


def step(rate, throughput, p99, errors=0.0):
    return dict(offered_rps=rate, throughput_rps=throughput, error_ratio=errors,
                latency_ms=dict(p50=p99 / 3, p90=p99 / 2, p99=p99, p999=p99 * 1.2, max=p99 * 1.5))


STEPS = [step(20, 20, 90), step(40, 40, 95), step(60, 52, 3000, 0.02)]


def plot(tmp_path, steps, check_mode=False, knee_rps=45):
    result, _play = run_module(tmp_path, "advwell.platform.capacity_plot", dict(
        dest=str(tmp_path / "capacity.png"), steps=steps, ceiling_rps=53, knee_rps=knee_rps, slo_ms=500),
        check_mode=check_mode)
    return result


def test_check_then_write_then_nothing_then_new_data(tmp_path):
    planned = plot(tmp_path, STEPS, check_mode=True)
    assert planned["changed"] is True and not (tmp_path / "capacity.png").exists(), planned
    assert plot(tmp_path, STEPS)["changed"] is True
    with Image.open(tmp_path / "capacity.png") as image:
        assert image.format == "PNG" and image.size == (800, 700)
    assert plot(tmp_path, STEPS)["changed"] is False
    assert plot(tmp_path, STEPS, check_mode=True)["changed"] is False
    assert plot(tmp_path, STEPS[:2])["changed"] is True
    assert plot(tmp_path, STEPS[:2], knee_rps=40)["changed"] is True


@pytest.mark.parametrize("steps, message", [
    ([], "steps: nothing to plot"),
    ([{"offered_rps": 1}], "steps: step 0 has no error_ratio, latency_ms, throughput_rps"),
])
def test_bad_steps_are_refused(tmp_path, steps, message):
    result = plot(tmp_path, steps)
    assert result.get("failed") and message in result["msg"], result
    assert not (tmp_path / "capacity.png").exists()
