"""The decisions of advwell.platform.swarm_scale, on service and task dicts shaped like the
ones Docker 20.10's API returns (GET /services/{id}, GET /tasks)."""
import copy
from datetime import datetime, timezone

import pytest

from ansible_collections.advwell.platform.plugins.module_utils.swarm_scale import (
    CONVERGED, FAILED, WAITING, Convergence, current_replicas, describe, epoch_seconds, is_converged,
    is_current,
    newest, running_count, scaled_spec, service_mode, summarize, update_problem)

SERVICE_ID = "ay81c52pzxxcdny23djy5as5c"
NODE_ID = "q2w748gw4owdh0vdhov1tm5rm"
NODES = {NODE_ID: "vps-app"}


def service(replicas=3, update_status=None, mode=None):
    found = {
        "ID": SERVICE_ID,
        "Version": {"Index": 608},
        "CreatedAt": "2026-11-29T16:40:39.474969251Z",
        "UpdatedAt": "2026-11-29T16:43:36.42411665Z",
        "Spec": {
            "Name": "advwell_backend",
            "Labels": {"com.docker.stack.namespace": "advwell"},
            "TaskTemplate": {
                "ContainerSpec": {"Image": "advwell/backend:lab", "Init": False,
                                  "StopGracePeriod": 1000000000, "DNSConfig": {}, "Isolation": "default"},
                "Resources": {"Limits": {}, "Reservations": {}},
                "Placement": {"Constraints": ["node.role==manager"]},
                "ForceUpdate": 0,
                "Runtime": "container",
            },
            "Mode": mode or {"Replicated": {"Replicas": replicas}},
            "EndpointSpec": {"Mode": "vip"},
        },
        "Endpoint": {"Spec": {}},
    }
    if update_status:
        found["UpdateStatus"] = update_status
    return found


def task(task_id, state, desired="running", slot=1, err=None, exit_code=None, node=NODE_ID,
         timestamp="2026-11-29T16:40:40.315309129Z", service_id=SERVICE_ID):
    status = {"Timestamp": timestamp, "State": state, "Message": state, "PortStatus": {}}
    if err:
        status["Err"] = err
    if exit_code is not None:
        status["ContainerStatus"] = {"ContainerID": "7802b63d1f44" + task_id, "PID": 0, "ExitCode": exit_code}
    found = {"ID": task_id, "Version": {"Index": 600}, "ServiceID": service_id, "Slot": slot,
             "DesiredState": desired, "Status": status}
    if node:
        found["NodeID"] = node
    return found


def running(task_id, slot):
    return task(task_id, "running", slot=slot, exit_code=0)


def crashed(task_id, slot, timestamp="2026-11-29T16:40:41.819623938Z"):
    return task(task_id, "failed", desired="shutdown", slot=slot, err="task: non-zero exit (2)",
                exit_code=2, timestamp=timestamp)


UNSCHEDULABLE = "no suitable node (scheduling constraints not satisfied on 1 node)"


def pending(task_id, slot):
    return task(task_id, "pending", slot=slot, err=UNSCHEDULABLE, node=None)


# --- the service -------------------------------------------------------------------------

def test_replicas_and_modes():
    assert current_replicas(service(3)) == 3
    assert service_mode(service(3)) == "replicated"
    assert service_mode(service(mode={"Global": {}})) == "global"
    assert service_mode(service(mode={"ReplicatedJob": {"MaxConcurrent": 1}})) == "replicated-job"
    assert service_mode(service(mode={"GlobalJob": {}})) == "global-job"


def test_replicas_left_out_of_the_json_are_zero():
    assert current_replicas(service(mode={"Replicated": {}})) == 0


def test_the_scaled_spec_differs_in_the_replica_count_only():
    original = service(1)
    kept = copy.deepcopy(original)
    spec = scaled_spec(original, 3)
    assert spec["Mode"] == {"Replicated": {"Replicas": 3}}
    assert original == kept, "the service read must not be modified"
    spec["Mode"] = original["Spec"]["Mode"]
    assert spec == original["Spec"]


@pytest.mark.parametrize("state", ["paused", "rollback_started", "rollback_paused", "rollback_completed"])
def test_a_paused_or_rolled_back_update_is_a_problem(state):
    problem = update_problem(service(update_status={
        "State": state, "StartedAt": "2026-11-29T16:41:19.438789458Z",
        "Message": "update paused due to failure or early termination of task wkbdxuem2b17em2t07hzjl1vz"}))
    assert problem.startswith(f"update {state.replace('_', ' ')}: ")
    assert "wkbdxuem2b17em2t07hzjl1vz" in problem


ROLLBACK_STARTED = 1795970479.4  # 2026-11-29T16:41:19.4Z, when the rollback below started


@pytest.mark.parametrize("state, since, is_problem", [
    ("rollback_completed", ROLLBACK_STARTED + 60, False),  # an earlier run's rollback
    ("rollback_completed", ROLLBACK_STARTED - 60, True),   # this run's rollback
    ("rollback_completed", None, True),
    ("paused", ROLLBACK_STARTED + 60, True),               # a paused update is never history
    ("rollback_paused", ROLLBACK_STARTED + 60, True),
])
def test_a_rollback_from_before_the_run_is_history(state, since, is_problem):
    problem = update_problem(service(update_status={
        "State": state, "StartedAt": "2026-11-29T16:41:19.438789458Z", "Message": "rollback"}), since)
    assert (problem is not None) == is_problem


@pytest.mark.parametrize("status", [None, {"State": "updating", "Message": "update in progress"},
                                    {"State": "completed", "Message": "update completed"}])
def test_other_update_states_are_no_problem(status):
    assert update_problem(service(update_status=status)) is None


# --- tasks -------------------------------------------------------------------------------

def test_all_wanted_tasks_running_is_converged():
    tasks = [running("t1", 1), running("t2", 2), running("t3", 3), crashed("old", 1)]
    assert is_converged(tasks, 3)
    assert running_count(tasks) == 3


def test_tasks_still_starting_are_not_converged():
    tasks = [running("t1", 1), task("t2", "starting", slot=2, exit_code=0),
             task("t3", "preparing", slot=3)]
    assert not is_converged(tasks, 3)
    assert running_count(tasks) == 1


def test_a_scale_down_is_done_when_the_removed_tasks_stopped():
    removing = [running("t1", 1), task("t2", "running", desired="remove", slot=2, exit_code=0)]
    assert not is_converged(removing, 1)
    stopped = [running("t1", 1), task("t2", "shutdown", desired="remove", slot=2, exit_code=137)]
    assert is_converged(stopped, 1)


def test_zero_replicas_converge_when_nothing_runs():
    assert is_converged([], 0)
    assert is_converged([task("t1", "shutdown", desired="shutdown", exit_code=137)], 0)
    assert not is_converged([task("t1", "running", desired="shutdown", exit_code=0)], 0)


def test_history_is_not_current():
    assert is_current(running("t1", 1))
    assert is_current(task("t2", "running", desired="shutdown"))
    assert is_current(task("t3", "ready", desired="ready"))
    assert not is_current(crashed("t4", 1))
    assert not is_current(task("t5", "shutdown", desired="shutdown"))


def test_summary_and_description_name_the_node_and_the_error():
    failed = crashed("k4w47lgc1fio46mpjlm47ahyc", 2)
    assert summarize(failed, NODES) == {
        "id": "k4w47lgc1fio46mpjlm47ahyc", "slot": 2, "node": "vps-app", "state": "failed",
        "desired_state": "shutdown", "error": "task: non-zero exit (2)"}
    assert summarize(failed)["node"] == NODE_ID
    assert summarize(pending("p1", 1), NODES)["node"] is None
    assert describe(failed, NODES) == ("task k4w47lgc1fio46mpjlm47ahyc (slot 2 on node vps-app) failed: "
                                       "task: non-zero exit (2) (exit code 2)")


def test_newest_compares_timestamps_with_uneven_fractions():
    first = crashed("a", 1, timestamp="2026-11-29T16:40:41.1Z")
    second = crashed("b", 1, timestamp="2026-11-29T16:40:41.123Z")
    third = crashed("c", 1, timestamp="2026-11-29T16:40:42Z")
    assert newest([second, first]) is second
    assert newest([third, second, first]) is third


# --- following a run ---------------------------------------------------------------------

def test_converges_when_the_tasks_have_run_for_a_while():
    watch = Convergence("advwell_backend", 3, [running("t1", 1)], stable_for=5)
    starting = [running("t1", 1), task("t2", "starting", slot=2), task("t3", "assigned", slot=3)]
    assert watch.check(service(3), starting, now=1.0).outcome == WAITING
    done = [running("t1", 1), running("t2", 2), running("t3", 3)]
    verdict = watch.check(service(3), done, now=2.0)
    assert verdict == (WAITING, "service advwell_backend: 3 tasks running, checking that they keep running")
    assert watch.check(service(3), done, now=6.9).outcome == WAITING
    assert watch.check(service(3), done, now=7.0) == (CONVERGED, "service advwell_backend: 3 tasks running")
    assert watch.states_seen == {"running", "starting", "assigned"}


def test_a_task_replaced_while_being_checked_starts_the_check_again():
    watch = Convergence("advwell_backend", 1, [], stable_for=5)
    assert watch.check(service(1), [running("t1", 1)], now=0.0).outcome == WAITING
    replaced = [crashed("t1", 1), running("t2", 1)]
    assert watch.check(service(1), replaced, now=4.0).outcome == WAITING
    assert watch.check(service(1), replaced, now=8.0).outcome == WAITING
    assert watch.check(service(1), replaced, now=9.0).outcome == CONVERGED


def test_a_rolling_update_in_progress_is_waited_for():
    tasks = [running("t1", 1), running("t2", 2)]
    watch = Convergence("advwell_backend", 2, tasks, stable_for=5)
    updating = service(2, update_status={"State": "updating", "Message": "update in progress"})
    verdict = watch.check(updating, tasks, now=100.0)
    assert verdict == (WAITING, "service advwell_backend: update in progress, 2 of 2 tasks running")
    assert watch.check(updating, tasks, now=200.0).outcome == WAITING
    done = service(2, update_status={"State": "completed", "Message": "update completed"})
    assert watch.check(done, tasks, now=201.0).outcome == CONVERGED


def test_tasks_already_running_are_checked_too():
    tasks = [running("t1", 1), running("t2", 2)]
    watch = Convergence("advwell_backend", 2, tasks, stable_for=5)
    assert watch.check(service(2), tasks, now=100.0).outcome == WAITING
    assert watch.check(service(2), tasks, now=105.0).outcome == CONVERGED


# The default task timestamp, 2026-11-29T16:40:40.315309129Z, as epoch seconds.
STARTED = datetime(2026, 11, 29, 16, 40, 40, 315309, tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize("value, expected", [
    ("2026-11-29T16:40:40.315309129Z", STARTED),
    ("2026-11-29T16:40:40Z", STARTED - 0.315309),
    ("2026-11-29T16:40:40.5Z", STARTED - 0.315309 + 0.5),
    ("0001-01-01T00:00:00Z", datetime(1, 1, 1, tzinfo=timezone.utc).timestamp()),
    ("", None),
    ("yesterday", None),
    (None, None),
])
def test_docker_timestamps_as_epoch_seconds(value, expected):
    assert epoch_seconds(value) == (None if expected is None else pytest.approx(expected, abs=1e-6))


def test_tasks_docker_dates_as_long_running_converge_at_the_first_look():
    tasks = [running("t1", 1), running("t2", 2)]
    watch = Convergence("advwell_backend", 2, tasks, stable_for=5)
    assert watch.check(service(2), tasks, now=100.0, wall_now=STARTED + 3600) == (
        CONVERGED, "service advwell_backend: 2 tasks running")


def test_a_task_docker_dates_as_just_started_is_checked_for_the_rest_of_the_time():
    tasks = [running("t1", 1)]
    watch = Convergence("advwell_backend", 1, [], stable_for=5)
    assert watch.check(service(1), tasks, now=100.0, wall_now=STARTED + 2).outcome == WAITING
    assert watch.check(service(1), tasks, now=102.9, wall_now=STARTED + 4.9).outcome == WAITING
    assert watch.check(service(1), tasks, now=103.0, wall_now=STARTED + 5).outcome == CONVERGED


@pytest.mark.parametrize("timestamp, wall_now", [
    ("2026-11-29T16:40:40.315309129Z", STARTED - 30),  # the node's clock is ahead of this one
    ("0001-01-01T00:00:00Z", STARTED),                # Docker's zero time: never set
    ("not a time", STARTED + 3600),
])
def test_a_task_without_a_believable_start_counts_as_just_started(timestamp, wall_now):
    tasks = [task("t1", "running", timestamp=timestamp)]
    watch = Convergence("advwell_backend", 1, [], stable_for=5)
    assert watch.check(service(1), tasks, now=100.0, wall_now=wall_now).outcome == WAITING
    assert watch.check(service(1), tasks, now=104.9, wall_now=wall_now + 4.9).outcome == WAITING
    assert watch.check(service(1), tasks, now=105.0, wall_now=wall_now + 5).outcome == CONVERGED


def test_a_replacement_task_is_dated_by_its_own_timestamp():
    watch = Convergence("advwell_backend", 1, [], stable_for=5)
    old = running("t1", 1)
    assert watch.check(service(1), [old], now=100.0, wall_now=STARTED + 1).outcome == WAITING
    replacement = task("t2", "running", timestamp="2026-11-29T16:40:50.315309129Z")
    replaced = [crashed("t1", 1), replacement]
    assert watch.check(service(1), replaced, now=110.0, wall_now=STARTED + 11).outcome == WAITING
    assert watch.check(service(1), replaced, now=114.0, wall_now=STARTED + 15).outcome == CONVERGED


def test_a_command_that_exits_right_after_starting_is_not_converged():
    watch = Convergence("advwell_backend", 2, [])
    assert watch.check(service(2), [running("a", 1), running("b", 2)], now=0.0).outcome == WAITING
    tasks = [crashed("a", 1), crashed("b", 2), running("c", 1), running("d", 2)]
    assert watch.check(service(2), tasks, now=1.5).outcome == WAITING
    tasks = [crashed("a", 1), crashed("b", 2), crashed("c", 1), running("d", 2), running("e", 1)]
    assert watch.check(service(2), tasks, now=3.0).outcome == FAILED


def test_repeated_failures_fail_with_the_last_error():
    before = [crashed("old1", 1), crashed("old2", 2), crashed("old3", 3)]
    watch = Convergence("advwell_backend", 2, before)
    watch.node_names = NODES
    # Failures from before the run do not count.
    assert watch.check(service(2), before + [task("n1", "starting", slot=1)], now=1.0).outcome == WAITING
    tasks = before + [crashed("n1", 1, timestamp="2026-11-29T16:50:01.5Z"),
                      crashed("n2", 2, timestamp="2026-11-29T16:50:01.7Z"),
                      task("n3", "starting", slot=1)]
    assert watch.check(service(2), tasks, now=2.0).outcome == WAITING
    tasks.append(crashed("n4", 2, timestamp="2026-11-29T16:50:03.2Z"))
    verdict = watch.check(service(2), tasks, now=3.0)
    assert verdict.outcome == FAILED
    assert verdict.message == (
        "service advwell_backend: 3 tasks failed since this run started (limit 3); last: task n4 "
        "(slot 2 on node vps-app) failed: task: non-zero exit (2) (exit code 2)")


def test_rejected_tasks_count_as_failures():
    watch = Convergence("advwell_backend", 1, [])
    rejected = [task(f"r{i}", "rejected", desired="shutdown", err="No such image: advwell/backend:lab",
                     timestamp=f"2026-11-29T16:50:0{i}Z") for i in range(3)]
    verdict = watch.check(service(1), rejected, now=1.0)
    assert verdict.outcome == FAILED
    assert "rejected: No such image: advwell/backend:lab" in verdict.message
    assert "exit code" not in verdict.message


def test_failures_are_checked_before_convergence():
    # A crash-looping task can be seen running between two crashes.
    watch = Convergence("advwell_backend", 1, [], stable_for=0)
    tasks = [crashed("a", 1), crashed("b", 1), crashed("c", 1), running("d", 1)]
    assert watch.check(service(1), tasks, now=1.0).outcome == FAILED


def test_no_suitable_node_fails_after_the_grace_period_only():
    watch = Convergence("advwell_backend", 2, [running("t1", 1)], no_node_grace=10)
    tasks = [running("t1", 1), pending("p2", 2)]
    assert watch.check(service(2), tasks, now=100.0).outcome == WAITING
    assert watch.check(service(2), tasks, now=109.9).outcome == WAITING
    verdict = watch.check(service(2), tasks, now=110.0)
    assert verdict.outcome == FAILED
    assert verdict.message == (f"service advwell_backend: no node can take task p2 (slot 2) after 10s: "
                               f"{UNSCHEDULABLE}")


def test_a_task_that_gets_a_node_restarts_the_grace_period():
    watch = Convergence("advwell_backend", 2, [], no_node_grace=10)
    assert watch.check(service(2), [running("t1", 1), pending("p2", 2)], now=0.0).outcome == WAITING
    assert watch.check(service(2), [running("t1", 1), task("p2", "assigned", slot=2)],
                       now=5.0).outcome == WAITING
    assert watch.check(service(2), [running("t1", 1), pending("p2", 2)], now=12.0).outcome == WAITING


def test_a_pending_task_without_an_error_is_waited_for():
    watch = Convergence("advwell_backend", 1, [], no_node_grace=10)
    tasks = [task("p1", "pending", node=None)]
    assert watch.check(service(1), tasks, now=0.0).outcome == WAITING
    assert watch.check(service(1), tasks, now=60.0).outcome == WAITING


@pytest.mark.parametrize("state", ["paused", "rollback_completed"])
def test_an_update_paused_or_rolled_back_while_waiting_fails(state):
    watch = Convergence("advwell_backend", 2, [])
    stuck = service(2, update_status={"State": state, "Message": "update paused due to failure"})
    verdict = watch.check(stuck, [running("t1", 1)], now=1.0)
    assert verdict.outcome == FAILED
    assert verdict.message.startswith(f"service advwell_backend: update {state.replace('_', ' ')}")


def test_someone_else_scaling_while_waiting_fails():
    watch = Convergence("advwell_backend", 3, [])
    verdict = watch.check(service(5), [running("t1", 1)], now=1.0)
    assert verdict.outcome == FAILED
    assert "changed to 5 by someone else" in verdict.message


def test_scaling_to_zero_converges_when_the_tasks_stopped():
    before = [running("t1", 1), running("t2", 2)]
    watch = Convergence("advwell_worker", 0, before)
    stopping = [task("t1", "running", desired="shutdown", slot=1),
                task("t2", "shutdown", desired="shutdown", slot=2)]
    assert watch.check(service(0), stopping, now=1.0).outcome == WAITING
    stopped = [task("t1", "shutdown", desired="shutdown", slot=1),
               task("t2", "shutdown", desired="shutdown", slot=2)]
    assert watch.check(service(0), stopped, now=2.0).outcome == CONVERGED


def test_tasks_of_other_services_are_ignored():
    watch = Convergence("advwell_backend", 1, [], stable_for=0)
    others = [task(f"x{i}", "failed", desired="shutdown", err="task: non-zero exit (1)", service_id="other")
              for i in range(5)]
    assert watch.check(service(1), others + [running("t1", 1)], now=1.0).outcome == CONVERGED


def test_the_timeout_message_names_wanted_running_and_states():
    watch = Convergence("advwell_backend", 3, [])
    tasks = [running("t1", 1), task("t2", "starting", slot=2), pending("t3", 3)]
    watch.check(service(3), tasks, now=0.0)
    watch.check(service(3), [running("t1", 1), task("t2", "starting", slot=2),
                             task("t3", "preparing", slot=3)], now=1.0)
    message = watch.timeout_message(tasks, 10)
    assert message == (
        "service advwell_backend: timed out after 10s waiting for 3 running tasks; running: 1, wanted: 3; "
        "current task states: pending 1, running 1, starting 1; "
        "states seen: pending, preparing, running, starting; "
        f"errors: {UNSCHEDULABLE}")
