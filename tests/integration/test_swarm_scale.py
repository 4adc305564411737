"""advwell.platform.swarm_scale on a real one-node Swarm, run by ansible-playbook inside the
manager's container: it waits until the tasks run, fails quickly and by name when they cannot,
and changes nothing but the one service's replica count."""
import json
import time

import pytest

from tests.fixtures.swarm import docker
from tests.integration.ansible_run import run_module

pytestmark = pytest.mark.docker

MODULE = "advwell.platform.swarm_scale"
IMAGE = "advwell/debian:bookworm"
BYSTANDER = "scale-bystander"

RAW_SERVICE = """
import json, sys
import docker
print(json.dumps(docker.APIClient().inspect_service(sys.argv[1])))
"""


class Services:
    """The test's services on the Swarm manager, all made from one small image."""

    def __init__(self, manager):
        self.manager = manager
        self.created = []

    def create(self, name, *options, replicas=1, command=("sleep", "infinity")):
        # A short grace period: `sleep` as PID 1 ignores SIGTERM, so every stop would take 10 s.
        self.manager.docker("service", "create", "--detach", "--name", name, "--replicas", str(replicas),
                            "--stop-grace-period", "1s", *options, IMAGE, *command)
        self.created.append(name)
        return name

    def remove(self, name):
        self.manager.docker("service", "rm", name)
        self.created.remove(name)

    def scale(self, name, replicas):
        """Sets the count with the Docker CLI and waits until exactly that many tasks run (without
        the CLI's own wait, which adds 5 s of checking)."""
        self.manager.docker("service", "scale", "--detach", f"{name}={replicas}")
        deadline = time.monotonic() + 60
        while self.running(name) != replicas:
            assert time.monotonic() < deadline, f"{name} did not reach {replicas} running tasks"
            time.sleep(0.5)

    def raw(self, name):
        """The service as the API stores it (`docker service inspect` adds defaults to Spec)."""
        return json.loads(docker("exec", self.manager.container, "python3", "-c", RAW_SERVICE, name).stdout)

    def replicas(self, name):
        return self.raw(name)["Spec"]["Mode"]["Replicated"].get("Replicas", 0)

    def running(self, name):
        states = self.manager.docker("service", "ps", name, "--format", "{{.CurrentState}}").stdout
        return sum(1 for state in states.split("\n") if state.startswith("Running"))

    def run(self, tmp_path, check_mode=False, diff=False, **args):
        started = time.monotonic()
        result = run_module(tmp_path, MODULE, args, check_mode=check_mode, diff=diff,
                            host=self.manager.container)[0]
        result["wall_seconds"] = time.monotonic() - started
        return result


@pytest.fixture(scope="module")
def services(swarm_manager):
    swarm_manager.load_image(IMAGE)
    made = Services(swarm_manager)
    try:
        made.create(BYSTANDER, replicas=2)
        made.scale(BYSTANDER, 2)
        made.bystander_version = made.raw(BYSTANDER)["Version"]["Index"]
        yield made
    finally:
        if made.created:
            swarm_manager.docker("service", "rm", *made.created, check=False)


@pytest.fixture(autouse=True)
def bystander_untouched(services):
    """Every test ends with the other service exactly as it was: same spec version, same tasks."""
    yield
    assert services.raw(BYSTANDER)["Version"]["Index"] == services.bystander_version
    assert services.running(BYSTANDER) == 2


@pytest.fixture(scope="module")
def web(services):
    return services.create("scale-web", replicas=1)


def test_scale_up_waits_until_every_task_runs(tmp_path, services, web):
    services.scale(web, 1)
    result = services.run(tmp_path, diff=True, name=web, replicas=3)
    assert not result.get("failed"), result
    assert result["changed"] is True
    assert (result["service"], result["replicas_before"], result["replicas"]) == (web, 1, 3)
    assert result["running"] == 3
    assert [task["state"] for task in result["tasks"]] == ["running"] * 3
    assert sorted(task["slot"] for task in result["tasks"]) == [1, 2, 3]
    assert all(task["node"] == services.manager.container for task in result["tasks"])
    assert result["diff"] == {"before": {"replicas": 1}, "after": {"replicas": 3}}
    assert result["waited"] >= 5, "new tasks are watched for 5 s"
    assert services.running(web) == 3

    stored = services.raw(web)
    assert stored["Spec"]["Mode"] == {"Replicated": {"Replicas": 3}}
    assert stored["PreviousSpec"]["Mode"] == {"Replicated": {"Replicas": 1}}
    assert dict(stored["Spec"], Mode=None) == dict(stored["PreviousSpec"], Mode=None), \
        "only the replica count may change"


def test_the_same_count_again_is_no_change_but_is_verified(tmp_path, services, web):
    services.scale(web, 2)
    version = services.raw(web)["Version"]["Index"]
    result = services.run(tmp_path, name=web, replicas=2)
    assert not result.get("failed"), result
    assert result["changed"] is False
    assert (result["replicas_before"], result["replicas"], result["running"]) == (2, 2, 2)
    assert services.raw(web)["Version"]["Index"] == version, "nothing may be written"


def test_tasks_running_for_a_while_are_not_watched_again(tmp_path, services, web):
    services.scale(web, 2)
    time.sleep(6)
    result = services.run(tmp_path, name=web, replicas=2)
    assert not result.get("failed"), result
    assert (result["changed"], result["running"]) == (False, 2)
    assert result["waited"] < 2, "their status timestamps say they have run for more than 5 s"


def test_scale_down_waits_until_the_removed_tasks_stopped(tmp_path, services, web):
    services.scale(web, 3)
    result = services.run(tmp_path, name=web, replicas=1)
    assert not result.get("failed"), result
    assert result["changed"] is True
    assert (result["replicas_before"], result["running"]) == (3, 1)
    assert [task["state"] for task in result["tasks"]] == ["running"]
    assert services.running(web) == 1


def test_check_mode_reports_the_change_and_writes_nothing(tmp_path, services, web):
    before = services.replicas(web)
    version = services.raw(web)["Version"]["Index"]
    result = services.run(tmp_path, check_mode=True, diff=True, name=web, replicas=before + 2)
    assert not result.get("failed"), result
    assert result["changed"] is True
    assert (result["replicas_before"], result["replicas"], result["waited"]) == (before, before + 2, 0)
    assert result["diff"] == {"before": {"replicas": before}, "after": {"replicas": before + 2}}
    assert services.replicas(web) == before
    assert services.raw(web)["Version"]["Index"] == version


def test_without_wait_it_returns_once_the_count_is_written(tmp_path, services, web):
    before = services.replicas(web)
    result = services.run(tmp_path, name=web, replicas=before + 1, wait=False)
    assert not result.get("failed"), result
    assert (result["changed"], result["replicas_before"], result["waited"]) == (True, before, 0)
    assert services.replicas(web) == before + 1


def test_tasks_that_keep_exiting_fail_with_their_error(tmp_path, services):
    crash = services.create("scale-crash", "--restart-delay", "1s", replicas=0,
                            command=("sh", "-c", "echo boom >&2; exit 3"))
    result = services.run(tmp_path, name=crash, replicas=2, timeout=120)
    assert result["failed"] is True
    assert result["msg"].startswith("service scale-crash: ")
    assert "tasks failed since this run started (limit 3)" in result["msg"]
    assert "task: non-zero exit (3) (exit code 3)" in result["msg"]
    assert result["waited"] < 40, "must not wait for the timeout"
    assert any(task["state"] == "failed" and task["error"] == "task: non-zero exit (3)"
               for task in result["tasks"])
    services.remove(crash)


def test_a_task_no_node_can_take_fails_after_a_short_grace(tmp_path, services):
    nowhere = services.create("scale-nowhere", "--constraint", "node.labels.advwell_nonexistent==yes",
                              replicas=0)
    result = services.run(tmp_path, name=nowhere, replicas=1, timeout=120)
    assert result["failed"] is True
    assert result["msg"].startswith("service scale-nowhere: no node can take task ")
    assert "no suitable node (scheduling constraints not satisfied on 1 node)" in result["msg"]
    assert 10 <= result["waited"] < 30
    assert [task["state"] for task in result["tasks"]] == ["pending"]


def test_tasks_that_never_get_running_time_out_with_the_counts(tmp_path, services):
    # The first health check comes after 5 minutes: until then the task stays "starting".
    unready = services.create("scale-unready", "--health-cmd", "true", "--health-interval", "5m",
                              replicas=0)
    result = services.run(tmp_path, name=unready, replicas=2, timeout=10, poll_interval=0.5)
    assert result["failed"] is True
    assert result["msg"].startswith("service scale-unready: timed out after 10s waiting for 2 running tasks")
    assert "running: 0, wanted: 2" in result["msg"]
    assert "starting" in result["msg"]
    assert 10 <= result["waited"] < 15
    assert result["running"] == 0


def test_a_paused_update_is_refused(tmp_path, services):
    paused = services.create("scale-paused", "--update-failure-action", "pause", "--update-monitor", "2s",
                             "--restart-delay", "1s", replicas=1)
    services.scale(paused, 1)
    services.manager.docker("service", "update", "--detach", "--args", "false", paused)
    deadline = time.monotonic() + 60
    while (services.raw(paused).get("UpdateStatus") or {}).get("State") != "paused":
        assert time.monotonic() < deadline, "the update did not pause"
        time.sleep(1)
    version = services.raw(paused)["Version"]["Index"]
    result = services.run(tmp_path, name=paused, replicas=2)
    assert result["failed"] is True
    assert result["msg"].startswith("service scale-paused: update paused")
    assert services.raw(paused)["Version"]["Index"] == version, "nothing may be written"
    services.remove(paused)


@pytest.mark.parametrize("args, named", [
    ({"replicas": -1}, "replicas must be 0 or more"),
    ({"replicas": 0}, "allow_zero=true"),
    ({"name": "scale-no-such-service", "replicas": 2}, "service scale-no-such-service not found"),
])
def test_bad_input_is_refused_naming_it(tmp_path, services, web, args, named):
    version = services.raw(web)["Version"]["Index"]
    result = services.run(tmp_path, **{"name": web, **args})
    assert result["failed"] is True
    assert named in result["msg"]
    assert services.raw(web)["Version"]["Index"] == version
