#!/usr/bin/python
# Copyright: (c) 2026, AdvWell platform engineers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs a command in, or sends a signal to, the running task(s) of a Swarm service on this node."""

DOCUMENTATION = r"""
---
module: swarm_task_exec
short_description: Run a command in a Swarm service's running task on this node, or signal it
version_added: 0.1.0
description:
  - Finds the containers of the running tasks of the Swarm service O(service) on the Docker
    engine of the host it runs on (containers labelled C(com.docker.swarm.service.name=SERVICE)
    whose state is V(running)), then either runs O(argv) in one of them (or in each, with
    O(all_tasks=true)) or sends it O(signal).
  - Without O(all_tasks), the task used is the one with the lowest slot (a global service's
    tasks are ordered by node ID) and, within a slot (an update that starts the new task before
    stopping the old one), the newest container.
  - A command that exits with a status other than 0 fails the task, as with
    M(ansible.builtin.command); use C(failed_when) to accept it (the result has RV(rc)).
  - Why a module? It replaces the shell idiom
    C(docker exec "$(docker ps -q --filter label=com.docker.swarm.service.name=SERVICE | head -n 1)" CMD).
    M(community.docker.docker_container_exec) needs the container's name, but a Swarm task's
    container has a generated name, so every use needs a second task to look it up; and it has
    no way to send a signal or to run in every task of a service.
  - Talks to the engine with community.docker's own Docker API client (create an exec, attach
    to it, read its multiplexed output, read its exit code; C(POST /containers/{id}/kill) for a
    signal), not with the C(docker) command-line tool, so output and exit codes come from the
    API as they are and no shell is involved anywhere.
author:
  - AdvWell platform engineers (!UNKNOWN)
extends_documentation_fragment:
  - community.docker.docker.api_documentation
options:
  service:
    description:
      - Name of the Swarm service, for example V(advtom_redis-master) or V(monitoring_prometheus)
        (a stack's services are named C(STACK_SERVICE)).
      - Only tasks whose containers run on this host's engine are used; the module does not
        look at other nodes.
    type: str
    required: true
  argv:
    description:
      - The command to run in the task's container, as a list of words; no shell is involved.
        Pass V([sh, -c, "..."]) for a shell.
      - Must not be empty. Exactly one of O(argv) and O(signal) is required.
    type: list
    elements: str
  stdin:
    description:
      - Text fed to the command's standard input, as given (no newline is added); the command
        then sees the end of its input. Only with O(argv).
      - Not logged (it may carry a secret).
    type: str
  signal:
    description:
      - Instead of running a command, send this signal to the container's main process, as
        C(docker kill --signal) does, for example V(HUP) to make Prometheus reload.
      - A name with or without C(SIG), in any case (V(HUP), V(SIGUSR1), V(RTMIN+1)), or a
        number from 1 to 64. Unknown names are rejected.
    type: str
  all_tasks:
    description:
      - Run the command (or send the signal) in every running task of the service on this
        node, one after the other, for example in each of three Redis Sentinels. Each task's
        outcome is in RV(results).
    type: bool
    default: false
  read_only:
    description:
      - Declares that the command only reads. The result is then never changed, and the
        command also runs in check mode.
      - Otherwise the command counts as a change (as with M(ansible.builtin.command)) and is not
        run in check mode.
      - Not with O(signal), since sending a signal is always a change.
    type: bool
    default: false
  missing_ok:
    description:
      - When the service has no running task on this node, return RV(containers=[]) and do
        nothing instead of failing.
    type: bool
    default: false
  timeout:
    description:
      - Seconds to wait for each answer of the Docker API; also how long the command may run.
        A command still running after that fails the module (Docker cannot stop an exec; the
        command goes on in the container).
      - If the value is not specified in the task, the value of environment variable
        E(DOCKER_TIMEOUT) is used instead; if that is not set either, the default is 60.
notes:
  - Uses community.docker's Docker API client, so it needs the Python library C(requests) on
    the managed host but not the Docker SDK for Python. With the default O(docker_host) it
    talks to the engine's Unix socket on the managed host.
  - No TTY is allocated; standard output and standard error are kept apart. Their trailing
    line ends are removed, as M(ansible.builtin.command) does.
  - With O(all_tasks), the command runs in all tasks even when it fails in one; the module
    then fails after the last, naming the tasks that failed.
attributes:
  check_mode:
    support: partial
    details: A command that is not declared O(read_only) is not run in check mode, and a signal
      is not sent; both report a change.
    description: With O(read_only=true) the command runs in check mode too and reports no change.
      Otherwise nothing is run or sent in check mode; the module still finds the tasks (failing
      as it would when there is none) and reports the change it would make.
  diff_mode:
    support: none
    description: A command's effect is not known, so there is nothing to show as a diff.
seealso:
  - module: community.docker.docker_container_exec
    description: Runs a command in a container whose name you know.
  - module: ansible.builtin.command
  - module: advwell.platform.prometheus_query
    description: Asks PromQL queries of a Prometheus task with its own promtool, through this module's code.
"""

EXAMPLES = r"""
- name: Ask the Redis master for its replication state (reads only, runs in check mode too)
  advwell.platform.swarm_task_exec:
    service: advtom_redis-master
    argv: [sh, -c, 'redis-cli -a "$(cat /run/secrets/redis_password)" --no-auth-warning info replication']
    read_only: true
  register: replication

- name: Ask every Sentinel of this node who the master is
  advwell.platform.swarm_task_exec:
    service: advtom_redis-sentinel
    argv: [redis-cli, -p, "26379", sentinel, get-master-addr-by-name, mymaster]
    all_tasks: true
    read_only: true
  register: sentinels

- name: Show each Sentinel's answer
  ansible.builtin.debug:
    msg: "{{ sentinels.results | map(attribute='stdout_lines') | list }}"

- name: Make Prometheus reload its configuration (nothing to do when it does not run here)
  advwell.platform.swarm_task_exec:
    service: monitoring_prometheus
    signal: HUP
    missing_ok: true

- name: Feed a script to a shell in the backend task, accepting exit status 1
  advwell.platform.swarm_task_exec:
    service: advtom_backend
    argv: [sh]
    stdin: |
      cd /app
      npx prisma migrate status
  register: migrate_status
  failed_when: migrate_status.rc not in [0, 1]
"""

RETURN = r"""
service:
  description: The service, as given.
  returned: always
  type: str
  sample: advtom_redis-master
containers:
  description: IDs of the containers used (every running task of the service on this node with
    O(all_tasks), else one); empty when there is none and O(missing_ok=true).
  returned: always
  type: list
  elements: str
  sample: [4f0c3d2e9a1b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d]
container:
  description: ID of the container whose outcome is in RV(rc), RV(stdout) and RV(stderr) (the
    first task whose command failed, else the first task), or the container signalled first.
  returned: when a running task was found
  type: str
  sample: 4f0c3d2e9a1b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d
task:
  description: Name of that container's Swarm task (C(SERVICE.SLOT.TASKID)).
  returned: when a running task was found
  type: str
  sample: advtom_redis-master.1.q2w748gw4owdh0vdhov1tm5rm
rc:
  description: The command's exit status (with O(all_tasks), the first non-zero one, else 0).
  returned: when the command ran
  type: int
  sample: 0
stdout:
  description: The command's standard output, without its trailing line ends.
  returned: when the command ran
  type: str
  sample: "role:master"
stdout_lines:
  description: RV(stdout) split into lines.
  returned: when the command ran
  type: list
  elements: str
  sample: ["role:master"]
stderr:
  description: The command's standard error, without its trailing line ends.
  returned: when the command ran
  type: str
  sample: ""
stderr_lines:
  description: RV(stderr) split into lines.
  returned: when the command ran
  type: list
  elements: str
  sample: []
signal:
  description: The signal sent (or, in check mode, that would be sent), as Docker was given it.
  returned: when O(signal) was given and a running task was found
  type: str
  sample: SIGHUP
results:
  description: Each task's outcome, in the order they ran (by slot).
  returned: with O(all_tasks=true) when a running task was found
  type: list
  elements: dict
  contains:
    container:
      description: Container ID.
      type: str
    task:
      description: Task name.
      type: str
    rc:
      description: Exit status (not with O(signal), nor in check mode unless O(read_only)).
      type: int
    stdout:
      description: Standard output, without its trailing line ends.
      type: str
    stdout_lines:
      description: Standard output split into lines.
      type: list
      elements: str
    stderr:
      description: Standard error, without its trailing line ends.
      type: str
  sample:
    - {container: 4f0c3d2e9a1b, task: advtom_redis-sentinel.1.x1, rc: 0, stdout: "172.18.0.5", stdout_lines: ["172.18.0.5"], stderr: ""}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.advwell.platform.plugins.module_utils.swarm_task_exec import (
    ModuleDockerClient, SwarmTasks, TaskExecError, docker_argument_spec, docker_required_together,
    normalize_signal, summary, task_result)


def check_params(module):
    params = module.params
    if not params["service"].strip():
        module.fail_json(msg="service: must not be empty")
    argv = params["argv"]
    if argv is not None:
        if not argv:
            module.fail_json(msg="argv: must not be empty: give the command and its arguments as a list")
        if not argv[0]:
            module.fail_json(msg="argv: the command (argv[0]) must not be empty")
    if params["signal"] is not None:
        if params["read_only"]:
            module.fail_json(msg="read_only: a signal is always a change; read_only applies to argv only")
        try:
            return normalize_signal(params["signal"])
        except ValueError as error:
            module.fail_json(msg=f"signal: {error}")
    return None


def run(module, tasks, chosen, signal):
    params = module.params
    service = params["service"]
    result = {"changed": False, "service": service, "containers": [task["container"] for task in chosen]}
    if signal is not None:
        result.update(changed=True, signal=signal, container=chosen[0]["container"], task=chosen[0]["task"])
        if params["all_tasks"]:
            result["results"] = [{"container": task["container"], "task": task["task"]} for task in chosen]
        if module.check_mode:
            module.exit_json(msg=f"would send {signal} to {len(chosen)} task(s) of {service} (check mode)", **result)
        for task in chosen:
            tasks.kill(task, signal)
        module.exit_json(**result)

    result["changed"] = not params["read_only"]
    if module.check_mode and not params["read_only"]:
        result.update(container=chosen[0]["container"], task=chosen[0]["task"])
        if params["all_tasks"]:
            result["results"] = [{"container": task["container"], "task": task["task"]} for task in chosen]
        module.exit_json(msg=f"would run {params['argv'][0]} in {len(chosen)} task(s) of {service} "
                             f"(check mode; set read_only for a command that only reads)", **result)

    outcomes = []
    for task in chosen:
        rc, stdout, stderr = tasks.exec(task, params["argv"], params["stdin"])
        outcomes.append(task_result(task, rc, stdout, stderr))
    result.update(summary(outcomes))
    if params["all_tasks"]:
        result["results"] = [dict(outcome, stdout_lines=outcome["stdout"].splitlines()) for outcome in outcomes]
    failed = [outcome for outcome in outcomes if outcome["rc"] != 0]
    if failed:
        where = ", ".join(f"{outcome['task']} (rc {outcome['rc']})" for outcome in failed)
        module.fail_json(msg=f"non-zero return code from {params['argv'][0]} in {where}", **result)
    module.exit_json(**result)


def main():
    module = AnsibleModule(
        argument_spec=docker_argument_spec(
            service=dict(type="str", required=True),
            argv=dict(type="list", elements="str"),
            stdin=dict(type="str", no_log=True),
            signal=dict(type="str"),
            all_tasks=dict(type="bool", default=False),
            read_only=dict(type="bool", default=False),
            missing_ok=dict(type="bool", default=False),
        ),
        mutually_exclusive=[("argv", "signal"), ("stdin", "signal")],
        required_one_of=[("argv", "signal")],
        required_together=docker_required_together(),
        supports_check_mode=True,
    )
    signal = check_params(module)
    service = module.params["service"]
    tasks = SwarmTasks(ModuleDockerClient(module), module.params["timeout"])
    try:
        running = tasks.running(service)
        if not running:
            if module.params["missing_ok"]:
                module.exit_json(changed=False, service=service, containers=[],
                                 msg=f"service {service} has no running task on this node")
            module.fail_json(msg=f"service {service} has no running task on this node (no running container "
                                 f"labelled com.docker.swarm.service.name={service}); set missing_ok to accept that",
                             service=service, containers=[])
        run(module, tasks, running if module.params["all_tasks"] else running[:1], signal)
    except TaskExecError as error:
        module.fail_json(msg=str(error), service=service, **error.where)


if __name__ == "__main__":
    main()
