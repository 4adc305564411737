"""advwell.platform.swarm_task_exec on a real one-node Swarm, run by ansible-playbook inside the
manager's container: it finds the service's running tasks by their label, runs commands in
them through the Docker API (output, exit codes, stdin), sends signals, honours check mode,
and fails by name."""
import time

import pytest

from tests.integration.ansible_run import run_module, run_module_cases

pytestmark = pytest.mark.docker

MODULE = "advwell.platform.swarm_task_exec"
IMAGE = "advwell/debian:bookworm"
SERVICE = "exec-target"
# PID 1 is a shell that logs each SIGHUP to /tmp/hup and ends on SIGTERM; `sleep 1 & wait` lets
# the traps run at once.
COMMAND = ("sh", "-c", 'trap "exit 0" TERM; trap "date +%s.%N >> /tmp/hup" HUP; '
                       'while :; do sleep 1 & wait $!; done')


class Target:
    """The test's service (two tasks on the manager) and a way to look into its containers."""

    def __init__(self, manager):
        self.manager = manager

    def containers(self):
        """The running containers' full IDs, by the label the module looks for."""
        listed = self.manager.docker("ps", "-q", "--no-trunc", "--filter",
                                     f"label=com.docker.swarm.service.name={SERVICE}").stdout
        return set(listed.split())

    def has_file(self, container, path):
        return self.manager.docker("exec", container, "test", "-e", path, check=False).returncode == 0

    def read(self, container, path):
        return self.manager.docker("exec", container, "cat", path, check=False).stdout

    def run_cases(self, tmp_path, cases):
        return run_module_cases(tmp_path, MODULE, cases, host=self.manager.container)[0]

    def run(self, tmp_path, check_mode=False, **args):
        return run_module(tmp_path, MODULE, args, check_mode=check_mode, host=self.manager.container)[0]

    def slot_container(self, slot):
        """The full ID of the running container of the task in `slot`."""
        names = self.manager.docker("ps", "--no-trunc", "--format", "{{.ID}} {{.Names}}", "--filter",
                                    f"label=com.docker.swarm.service.name={SERVICE}").stdout
        [found] = [line.split()[0] for line in names.splitlines() if line.split()[1].startswith(f"{SERVICE}.{slot}.")]
        return found


@pytest.fixture(scope="module")
def target(swarm_manager):
    swarm_manager.load_image(IMAGE)
    made = Target(swarm_manager)
    try:
        swarm_manager.docker("service", "create", "--detach", "--name", SERVICE, "--replicas", "2",
                             "--stop-grace-period", "1s", IMAGE, *COMMAND)
        deadline = time.monotonic() + 60
        while len(made.containers()) != 2:
            assert time.monotonic() < deadline, f"{SERVICE} did not get two running tasks"
            time.sleep(0.3)
        # The mark that makes a command fail in the first task only (all_tasks_run_even_when_one_fails).
        swarm_manager.docker("exec", made.slot_container(1), "touch", "/tmp/first-task")
        yield made
    finally:
        swarm_manager.docker("service", "rm", SERVICE, check=False)


# The cases that change nothing the others look at run in one ansible-playbook (a start costs
# seconds); each test asserts on its own case's result.
CASES = {
    "first_task": {"argv": ["sh", "-c", "echo hello; echo world; echo oops >&2"]},
    "no_shell": {"argv": ["echo", "$HOME", "a;b", "*", "'q'"], "read_only": True},
    "all_tasks": {"argv": ["hostname"], "all_tasks": True, "read_only": True},
    "non_zero": {"argv": ["sh", "-c", "echo out; echo err >&2; exit 3"]},
    "one_fails": {"argv": ["sh", "-c", "hostname; ! test -e /tmp/first-task"], "all_tasks": True, "read_only": True},
    "check_touch": ({"argv": ["touch", "/tmp/check-mode"]}, True),
    "check_read": ({"argv": ["cat", "/etc/debian_version"], "read_only": True}, True),
    "timeout": {"argv": ["sleep", "120"], "timeout": 2},
    "missing": {"service": "exec-nowhere", "argv": ["true"]},
    "missing_ok": {"service": "exec-nowhere", "signal": "HUP", "missing_ok": True},
}


BAD_INPUT = [
    (dict(argv=["true"], signal="HUP"), "parameters are mutually exclusive: argv|signal"),
    (dict(), "one of the following is required: argv, signal"),
    (dict(argv=[]), "argv: must not be empty"),
    (dict(argv=[""]), "argv: the command (argv[0]) must not be empty"),
    (dict(signal="HUPP"), "signal: unknown signal 'HUPP'"),
    (dict(signal="0"), "signal: signal number 0 is not 1 to 64"),
    (dict(signal="HUP", read_only=True), "read_only: a signal is always a change"),
    (dict(signal="HUP", stdin="text for a signal"), "parameters are mutually exclusive: stdin|signal"),
    (dict(service=" ", argv=["true"]), "service: must not be empty"),
    (dict(argv="true"), None),  # a string is a list of one word, as Ansible converts it
]


@pytest.fixture(scope="module")
def cases(target, tmp_path_factory):
    """{case name: its result} of CASES, run with the test's service unless a case names one, and
    "bad_input": the results of BAD_INPUT's cases, in order."""
    tmp_path = tmp_path_factory.mktemp("cases")
    started = time.monotonic()
    ordered = []
    for case in CASES.values():
        args, check_mode = case if isinstance(case, tuple) else (case, False)
        ordered.append(({"service": SERVICE, **args}, check_mode))
    ordered += [({"service": SERVICE, **args}, False) for args, _message in BAD_INPUT]
    results = target.run_cases(tmp_path, ordered)
    named = dict(zip(CASES, results))
    named["bad_input"] = results[len(CASES):]
    named["_seconds"] = time.monotonic() - started
    return named


def test_runs_a_command_in_the_first_task_and_returns_its_output(target, cases):
    result = cases["first_task"]
    assert not result.get("failed"), result
    assert result["changed"] is True
    assert (result["rc"], result["stdout"], result["stderr"]) == (0, "hello\nworld", "oops")
    assert (result["stdout_lines"], result["stderr_lines"]) == (["hello", "world"], ["oops"])
    assert result["container"] == target.slot_container(1), "the lowest slot is used"
    assert result["containers"] == [result["container"]]
    assert result["task"].startswith(f"{SERVICE}.1.")
    assert "results" not in result


def test_argv_is_not_given_to_a_shell(cases):
    assert cases["no_shell"]["stdout"] == "$HOME a;b * 'q'"


def test_stdin_is_fed_and_not_logged(tmp_path, target):
    result, run = run_module(tmp_path, MODULE, {"service": SERVICE, "argv": ["tr", "a-z", "A-Z"],
                                                "stdin": "line one\nline two\n"},
                             verbosity="-vvv", host=target.manager.container)
    assert not result.get("failed"), result
    assert result["stdout_lines"] == ["LINE ONE", "LINE TWO"]
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in run.stdout, "-vvv shows the arguments"
    assert "line one" not in run.stdout + run.stderr


def test_all_tasks_runs_in_each_task(target, cases):
    result = cases["all_tasks"]
    assert not result.get("failed"), result
    assert result["changed"] is False
    assert set(result["containers"]) == target.containers()
    assert [item["container"] for item in result["results"]] == result["containers"]
    assert [item["task"].split(".")[1] for item in result["results"]] == ["1", "2"]
    for item in result["results"]:
        # A task's hostname is its container's short ID: each ran in its own container.
        assert (item["rc"], item["stdout"], item["stderr"]) == (0, item["container"][:12], "")
        assert item["stdout_lines"] == [item["container"][:12]]
    assert (result["container"], result["stdout"]) == (result["results"][0]["container"],
                                                       result["results"][0]["stdout"])


def test_non_zero_exit_fails_with_rc_and_output(cases):
    result = cases["non_zero"]
    assert result["failed"] is True
    assert (result["rc"], result["stdout"], result["stderr"]) == (3, "out", "err")
    assert result["msg"] == f"non-zero return code from sh in {result['task']} (rc 3)"


def test_all_tasks_run_even_when_one_fails(target, cases):
    first, second = target.slot_container(1), target.slot_container(2)
    result = cases["one_fails"]
    assert result["failed"] is True
    assert [(item["container"], item["rc"]) for item in result["results"]] == [(first, 1), (second, 0)]
    assert (result["container"], result["rc"], result["stdout"]) == (first, 1, first[:12])
    assert result["msg"] == f"non-zero return code from sh in {result['results'][0]['task']} (rc 1)"


def test_signal_to_every_task_and_not_in_check_mode(tmp_path, target):
    containers = target.containers()
    preview = target.run(tmp_path, check_mode=True, service=SERVICE, signal="hup", all_tasks=True)
    assert not preview.get("failed"), preview
    assert (preview["changed"], preview["signal"]) == (True, "SIGHUP")
    assert set(preview["containers"]) == containers
    assert not any(target.has_file(container, "/tmp/hup") for container in containers), "check mode sent it"

    result = target.run(tmp_path, service=SERVICE, signal="hup", all_tasks=True)
    assert not result.get("failed"), result
    assert (result["changed"], result["signal"]) == (True, "SIGHUP")
    assert "rc" not in result
    deadline = time.monotonic() + 10
    while not all(target.has_file(container, "/tmp/hup") for container in containers):
        assert time.monotonic() < deadline, "SIGHUP did not reach every task"
        time.sleep(0.2)
    assert [len(target.read(container, "/tmp/hup").split()) for container in sorted(containers)] == [1, 1]
    assert target.containers() == containers, "the tasks survived the signal"


def test_check_mode_skips_a_command_that_changes_and_runs_a_read_only_one(target, cases):
    preview = cases["check_touch"]
    assert not preview.get("failed"), preview
    assert preview["changed"] is True
    assert "rc" not in preview and "stdout" not in preview
    assert preview["msg"].startswith(f"would run touch in 1 task(s) of {SERVICE} (check mode")
    assert not target.has_file(preview["container"], "/tmp/check-mode")

    reading = cases["check_read"]
    assert not reading.get("failed"), reading
    assert reading["changed"] is False
    assert reading["rc"] == 0 and reading["stdout"].startswith("12.")


def test_timeout_ends_the_wait_for_a_command(cases):
    result = cases["timeout"]
    assert result["failed"] is True
    assert result["msg"] == (f"the command in task {result['task']} (container {result['container'][:12]}) did not "
                             f"end within 2 seconds (the option timeout); it may still be running there")
    assert cases["_seconds"] < 110, "the module waited for the command (sleep 120)"


def test_missing_service_fails_naming_it_unless_missing_ok(cases):
    missing, allowed = cases["missing"], cases["missing_ok"]
    assert missing["failed"] is True
    assert missing["msg"].startswith("service exec-nowhere has no running task on this node")
    assert missing["containers"] == []
    assert not allowed.get("failed"), allowed
    assert (allowed["changed"], allowed["containers"]) == (False, [])


def test_bad_input_fails_naming_the_parameter(cases):
    assert len(cases["bad_input"]) == len(BAD_INPUT)
    for (args, message), result in zip(BAD_INPUT, cases["bad_input"]):
        if message is None:
            assert not result.get("failed"), (args, result)
        else:
            assert result.get("failed") is True, (args, result)
            assert message in result["msg"], (args, result["msg"])
