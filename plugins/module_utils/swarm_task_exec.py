# Copyright: (c) 2026, AdvWell platform engineers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Finding the containers of a Swarm service's running tasks on one engine, and running a
command in them or signalling them.

The decisions (which containers, in which order; which signal names Docker takes; what a
run's result looks like) are plain functions on the dicts the Docker Engine API returns
(GET /containers/json), tested without Docker. SwarmTasks does the API calls with
community.docker's own client, so the managed host needs the Python library requests but
not the Docker SDK for Python. Used by the modules advwell.platform.swarm_task_exec and
advwell.platform.prometheus_query (its `service` mode), so there is one implementation of
"find the task's container and exec in it".
"""
import re
import selectors
import time

from ansible.module_utils.common.text.converters import to_bytes, to_text

from ansible_collections.community.docker.plugins.module_utils.common_api import (
    AnsibleDockerClientBase,
    RequestException,
)
from ansible_collections.community.docker.plugins.module_utils.util import (
    DOCKER_COMMON_ARGS,
    DOCKER_REQUIRED_TOGETHER,
)
from ansible_collections.community.docker.plugins.module_utils.socket_handler import DockerSocketHandlerModule
from ansible_collections.community.docker.plugins.module_utils._api.errors import APIError, DockerException, NotFound
from ansible_collections.community.docker.plugins.module_utils._api.utils.utils import convert_filters

SERVICE_LABEL = "com.docker.swarm.service.name"
TASK_NAME_LABEL = "com.docker.swarm.task.name"

# Linux's signal names as Docker's API takes them (without SIG), for `docker kill --signal`.
SIGNAL_NAMES = (
    "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "IOT", "BUS", "FPE", "KILL", "USR1", "SEGV",
    "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU",
    "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "POLL", "PWR", "SYS",
)
# SIGRTMIN is 34 and SIGRTMAX 64 on Linux: RTMIN+1..RTMIN+15 and RTMAX-14..RTMAX-1 name the rest.
REALTIME_SIGNAL = re.compile(r"^RT(MIN|MAX)(?:([+-])(\d+))?$")
MAX_SIGNAL_NUMBER = 64


class TaskExecError(Exception):
    """Docker refused or could not do what was asked; the message says what and where, and
    `where` is {"container", "task"} of the task concerned (empty before one was chosen)."""

    def __init__(self, message, task=None):
        super().__init__(message)
        self.where = {"container": task["container"], "task": task["task"]} if task else {}


def docker_argument_spec(**options):
    """community.docker's connection options (docker_host, TLS, timeout, ...) plus `options`."""
    spec = dict(DOCKER_COMMON_ARGS)
    spec.update(options)
    return spec


def docker_required_together():
    return [list(pair) for pair in DOCKER_REQUIRED_TOGETHER]


def task_slot(service, task_name):
    """Sort key of a task from its name: SERVICE.SLOT.ID for a replicated service (slots in
    numeric order), SERVICE.NODEID.ID for a global one (after any slot, by node)."""
    name = task_name or ""
    rest = name[len(service) + 1:] if name.startswith(service + ".") else name
    slot = rest.rsplit(".", 1)[0]
    return (0, int(slot), "") if slot.isdigit() else (1, 0, slot)


def running_task_containers(containers, service):
    """The running containers of `service`'s tasks among `containers` (the engine's
    GET /containers/json list), as [{"container": full ID, "task": task name}], ordered by
    slot and, within a slot (an update that starts the new task first), newest first.

    The list is filtered again here, whatever filter the request had: only an exact
    service-name label and the state "running" count.
    """
    found = []
    for container in containers:
        labels = container.get("Labels") or {}
        if labels.get(SERVICE_LABEL) != service or container.get("State") != "running":
            continue
        task = labels.get(TASK_NAME_LABEL) or ""
        found.append((task_slot(service, task), -(container.get("Created") or 0), container["Id"], task))
    found.sort()
    return [{"container": container_id, "task": task} for _slot, _created, container_id, task in found]


def normalize_signal(value):
    """The signal as Docker's kill API takes it ("SIGHUP", "SIGRTMIN+3" or a number as a
    string), from a name with or without SIG in any case, or a number 1 to 64.
    Raises ValueError saying what is wrong."""
    text = str(value).strip()
    if not text:
        raise ValueError("must not be empty")
    if text.isdigit():
        number = int(text)
        if not 1 <= number <= MAX_SIGNAL_NUMBER:
            raise ValueError(f"signal number {number} is not 1 to {MAX_SIGNAL_NUMBER}")
        return str(number)
    name = text.upper()
    if name.startswith("SIG"):
        name = name[3:]
    if name in SIGNAL_NAMES:
        return "SIG" + name
    realtime = REALTIME_SIGNAL.match(name)
    if realtime:
        base, sign, offset = realtime.groups()
        if sign is None:
            return "SIGRT" + base
        offset = int(offset)
        if (base, sign) in (("MIN", "+"), ("MAX", "-")) and 1 <= offset <= 15 - (base == "MAX"):
            return f"SIGRT{base}{sign}{offset}"
    raise ValueError(f"unknown signal {text!r}; use a name such as HUP, SIGUSR1 or RTMIN+1, "
                     f"or a number 1 to {MAX_SIGNAL_NUMBER}")


def describe(task):
    """A task as messages name it."""
    return f"task {task['task']} (container {task['container'][:12]})"


def command_text(data):
    """Output as text without its trailing line ends, as ansible.builtin.command gives it."""
    return to_text(data or b"", errors="replace").rstrip("\r\n")


def task_result(task, rc, stdout, stderr):
    """One task's outcome of a command: its container, task, rc and text output."""
    return {"container": task["container"], "task": task["task"], "rc": rc,
            "stdout": command_text(stdout), "stderr": command_text(stderr)}


def summary(results):
    """The top-level fields of a run over one or more tasks: those of the first task whose
    command failed, else of the first task; with stdout_lines and stderr_lines."""
    chosen = next((result for result in results if result["rc"] != 0), results[0])
    return {"container": chosen["container"], "task": chosen["task"], "rc": chosen["rc"],
            "stdout": chosen["stdout"], "stderr": chosen["stderr"],
            "stdout_lines": chosen["stdout"].splitlines(), "stderr_lines": chosen["stderr"].splitlines()}


class ModuleDockerClient(AnsibleDockerClientBase):
    """community.docker's Docker API client for a module made elsewhere, so that a module
    connects to Docker only when it needs it (prometheus_query's `url` mode never does)."""

    def __init__(self, module):
        self.module = module
        self.debug = module.params.get("debug")
        self.check_mode = module.check_mode
        super().__init__()

    def fail(self, msg, **kwargs):
        self.module.fail_json(msg=msg, **kwargs)

    def _get_params(self):
        return self.module.params


class SwarmTasks:
    """The running tasks of Swarm services on the engine `client` talks to."""

    def __init__(self, client, timeout):
        self.client = client
        self.module = client.module
        self.timeout = timeout

    def running(self, service):
        """running_task_containers of `service` on this engine."""
        filters = convert_filters({"label": [f"{SERVICE_LABEL}={service}"], "status": ["running"]})
        try:
            containers = self.client.get_json("/containers/json", params={"filters": filters})
        except (APIError, DockerException, RequestException) as error:
            raise TaskExecError(f"service {service}: cannot list the containers of this Docker engine: {error}") from error
        return running_task_containers(containers or [], service)

    def exec(self, task, argv, stdin=None):
        """Runs argv in the task's container (no shell, no TTY), with `stdin` fed to it when
        given; returns (rc, stdout bytes, stderr bytes). Fails when it has not ended within
        the client's timeout (the command itself goes on: Docker cannot stop an exec)."""
        where = describe(task)
        try:
            created = self.client.post_json_to_json("/containers/{0}/exec", task["container"], data={
                "AttachStdin": bool(stdin), "AttachStdout": True, "AttachStderr": True,
                "Tty": False, "Privileged": False, "Cmd": list(argv)})
            socket = self.client.post_json_to_stream_socket("/exec/{0}/start", created["Id"],
                                                            data={"Tty": False, "Detach": False})
            try:
                stdout, stderr = self._talk(socket, stdin, task)
            finally:
                socket.close()
            inspected = self._ended(created["Id"], task)
        except NotFound as error:
            raise TaskExecError(f"{where} is gone: {error}", task) from error
        except (APIError, DockerException, RequestException) as error:
            raise TaskExecError(f"cannot run {argv[0]} in {where}: {error}", task) from error
        return inspected["ExitCode"], stdout, stderr

    def _talk(self, socket, stdin, task):
        """Writes stdin (then closes the writing side), reads the multiplexed output until
        Docker ends the stream or the timeout passes."""
        deadline = time.monotonic() + self.timeout
        out = {1: [], 2: []}
        with DockerSocketHandlerModule(socket, self.module, selectors) as handler:
            handler.set_block_done_callback(lambda stream, data: out.setdefault(stream, []).append(data))
            if stdin:
                handler.write(to_bytes(stdin, errors="surrogate_or_strict"))
                handler.end_of_writing()
            while not handler.is_eof():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TaskExecError(f"the command in {describe(task)} did not end within {self.timeout} seconds "
                                        f"(the option timeout); it may still be running there", task)
                handler.select(min(left, 1.0))
        return b"".join(out[1]), b"".join(out[2])

    def _ended(self, exec_id, task):
        """The exec's inspection once Docker has its exit code (at most a second after its
        output ended)."""
        deadline = time.monotonic() + 1.0
        while True:
            inspected = self.client.get_json("/exec/{0}/json", exec_id)
            if not inspected.get("Running") and inspected.get("ExitCode") is not None:
                return inspected
            if time.monotonic() > deadline:
                raise TaskExecError(f"the command in {describe(task)} closed its output but Docker reports no exit code", task)
            time.sleep(0.05)

    def kill(self, task, signal):
        """Sends `signal` (as normalize_signal gives it) to the task's container."""
        where = describe(task)
        try:
            self.client.post_call("/containers/{0}/kill", task["container"], params={"signal": signal})
        except NotFound as error:
            raise TaskExecError(f"{where} is gone: {error}", task) from error
        except (APIError, DockerException, RequestException) as error:
            raise TaskExecError(f"cannot send {signal} to {where}: {error}", task) from error
