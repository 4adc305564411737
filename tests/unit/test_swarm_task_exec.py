"""The decisions of advwell.platform.swarm_task_exec, on container lists shaped like the ones
Docker 20.10's API returns (GET /containers/json)."""
import pytest

from ansible_collections.advwell.platform.plugins.module_utils.swarm_task_exec import (
    command_text, describe, docker_argument_spec, normalize_signal, running_task_containers, summary, task_result,
    task_slot)

SERVICE = "advtom_redis-sentinel"


def container(container_id, task, state="running", created=1796600000, service=SERVICE):
    labels = {"com.docker.swarm.node.id": "q2w748gw4owdh0vdhov1tm5rm",
              "com.docker.swarm.task": "",
              "com.docker.swarm.task.id": task.rsplit(".", 1)[-1],
              "com.docker.swarm.task.name": task}
    if service is not None:
        labels["com.docker.swarm.service.name"] = service
    return {"Id": container_id, "Names": [f"/{task}"], "Image": "advwell/redis:lab",
            "Created": created, "State": state, "Status": "Up 3 minutes", "Labels": labels}


class TestRunningTaskContainers:
    def test_orders_by_slot_numerically(self):
        found = running_task_containers([
            container("c10", f"{SERVICE}.10.t10"),
            container("c2", f"{SERVICE}.2.t2"),
            container("c1", f"{SERVICE}.1.t1"),
        ], SERVICE)
        assert found == [{"container": "c1", "task": f"{SERVICE}.1.t1"},
                         {"container": "c2", "task": f"{SERVICE}.2.t2"},
                         {"container": "c10", "task": f"{SERVICE}.10.t10"}]

    def test_within_a_slot_the_newest_container_comes_first(self):
        """An update with order start-first runs the old and the new task of a slot at once."""
        found = running_task_containers([
            container("old", f"{SERVICE}.1.aaa", created=1796600000),
            container("new", f"{SERVICE}.1.bbb", created=1796600100),
            container("two", f"{SERVICE}.2.ccc", created=1796600200),
        ], SERVICE)
        assert [item["container"] for item in found] == ["new", "old", "two"]

    def test_only_running_containers_of_exactly_that_service(self):
        found = running_task_containers([
            container("exited", f"{SERVICE}.1.t1", state="exited"),
            container("restarting", f"{SERVICE}.2.t2", state="restarting"),
            container("other", "advtom_redis-sentinel-2.1.t3", service="advtom_redis-sentinel-2"),
            container("prefix", "advtom_redis.1.t4", service="advtom_redis"),
            container("plain", "plain.1.t5", service=None),
            container("mine", f"{SERVICE}.3.t6"),
        ], SERVICE)
        assert found == [{"container": "mine", "task": f"{SERVICE}.3.t6"}]

    def test_nothing_running(self):
        assert running_task_containers([], SERVICE) == []
        assert running_task_containers([container("c", f"{SERVICE}.1.t", state="created")], SERVICE) == []

    def test_global_service_tasks_are_ordered_by_node_after_slots(self):
        found = running_task_containers([
            container("on-b", f"{SERVICE}.nodeb.t1"),
            container("on-a", f"{SERVICE}.nodea.t2"),
        ], SERVICE)
        assert [item["container"] for item in found] == ["on-a", "on-b"]

    def test_task_slot(self):
        assert task_slot(SERVICE, f"{SERVICE}.3.xyz") == (0, 3, "")
        assert task_slot(SERVICE, f"{SERVICE}.q2w748gw4owdh0vdhov1tm5rm.xyz") == (1, 0, "q2w748gw4owdh0vdhov1tm5rm")
        assert task_slot("a.b", "a.b.12.xyz") == (0, 12, ""), "a dotted service name is cut off whole"
        assert task_slot(SERVICE, "") == (1, 0, "")


class TestNormalizeSignal:
    @pytest.mark.parametrize("given, expected", [
        ("HUP", "SIGHUP"), ("hup", "SIGHUP"), ("SIGHUP", "SIGHUP"), ("sigusr1", "SIGUSR1"),
        (" TERM ", "SIGTERM"), ("WINCH", "SIGWINCH"), ("RTMIN", "SIGRTMIN"), ("rtmin+3", "SIGRTMIN+3"),
        ("SIGRTMAX-2", "SIGRTMAX-2"), ("RTMAX", "SIGRTMAX"), ("1", "1"), ("64", "64"), (9, "9"),
    ])
    def test_accepted(self, given, expected):
        assert normalize_signal(given) == expected

    @pytest.mark.parametrize("given, says", [
        ("", "must not be empty"),
        ("HUPP", "unknown signal 'HUPP'"),
        ("SIG", "unknown signal 'SIG'"),
        ("0", "signal number 0 is not 1 to 64"),
        ("65", "signal number 65 is not 1 to 64"),
        ("-1", "unknown signal '-1'"),
        ("RTMIN+16", "unknown signal 'RTMIN+16'"),
        ("RTMAX-15", "unknown signal 'RTMAX-15'"),
        ("RTMIN-1", "unknown signal 'RTMIN-1'"),
        ("HUP; rm -rf /", "unknown signal"),
    ])
    def test_rejected(self, given, says):
        with pytest.raises(ValueError, match=says.replace("+", r"\+")):
            normalize_signal(given)


class TestResults:
    def test_command_text_drops_trailing_line_ends_only(self):
        assert command_text(b"  one\n\ntwo\r\n\n") == "  one\n\ntwo"
        assert command_text(None) == ""
        assert command_text(b"caf\xc3\xa9\n") == "caf\u00e9"
        assert command_text(b"\xff\n") == "\ufffd"

    def test_summary_of_one_task(self):
        task = {"container": "c1", "task": "s.1.t1"}
        result = summary([task_result(task, 0, b"role:master\nconnected_slaves:1\n", b"")])
        assert result == {"container": "c1", "task": "s.1.t1", "rc": 0,
                          "stdout": "role:master\nconnected_slaves:1", "stderr": "",
                          "stdout_lines": ["role:master", "connected_slaves:1"], "stderr_lines": []}

    def test_summary_shows_the_first_failed_task(self):
        results = [task_result({"container": f"c{slot}", "task": f"s.{slot}.t"}, rc, f"out{slot}".encode(),
                               f"err{slot}".encode())
                   for slot, rc in ((1, 0), (2, 3), (3, 1))]
        chosen = summary(results)
        assert (chosen["container"], chosen["rc"], chosen["stdout"], chosen["stderr_lines"]) == ("c2", 3, "out2", ["err2"])

    def test_describe_names_the_task_and_the_short_container_id(self):
        task = {"container": "4f0c3d2e9a1b7c6d5e4f3a2b1c0d9e8f", "task": "advtom_redis-master.1.q2w748gw"}
        assert describe(task) == "task advtom_redis-master.1.q2w748gw (container 4f0c3d2e9a1b)"

    def test_summary_of_all_succeeded_is_the_first(self):
        results = [task_result({"container": f"c{slot}", "task": f"s.{slot}.t"}, 0, b"", b"") for slot in (1, 2)]
        assert summary(results)["container"] == "c1"


def test_argument_spec_has_docker_connection_options():
    spec = docker_argument_spec(service=dict(type="str", required=True))
    assert spec["service"] == {"type": "str", "required": True}
    assert {"docker_host", "timeout", "tls", "validate_certs", "ca_path"} <= set(spec)
    assert spec["timeout"]["type"] == "int"
