#!/usr/bin/python
# Copyright: (c) 2026, AdvWell platform engineers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Scales a replicated Docker Swarm service and waits until its tasks run."""

DOCUMENTATION = r"""
---
module: swarm_scale
short_description: Set a Swarm service's replica count and wait until that many tasks run
version_added: 0.1.0
description:
  - Sets C(Mode.Replicated.Replicas) of one replicated Docker Swarm service and, unless
    O(wait=false), waits until exactly that many of its tasks are running, the tasks removed
    by a scale-down have stopped, and the running tasks have been running for 5 seconds
    (as C(docker service scale) checks too), so that a command that exits right after
    starting is not taken for a running task. How long comes from each task's status
    timestamp, so a service whose tasks have long been running returns at once (the Swarm
    nodes' clocks are expected to agree, as NTP keeps them; a task dated ahead of this host's
    clock counts as just started).
  - Why a module? C(community.docker.docker_swarm_service) sets the replica count but does
    not wait for the Swarm to converge, so a play goes on while tasks are still starting,
    failing over and over, or waiting for a node that does not exist.
  - Changes nothing but the replica count. The service's current spec is written back with
    that one field changed, together with the spec's version index, so a concurrent change
    is refused by Docker instead of being overwritten (the module then reads the service
    again, up to three times). No other service is read or written.
  - Fails, naming the service and the reason, instead of hanging or reporting success, in
    each of the cases below.
  - The service's update is paused, rolling back or rolled back (C(UpdateStatus.State) is
    V(paused), V(rollback_started), V(rollback_paused) or V(rollback_completed)), before or
    while waiting. A rolled-back update is a failure even when it happened before this run;
    a successful deployment of the service clears it.
  - 3 of the service's tasks have failed or been rejected since this run started, for
    example because the image's command exits. The message gives the last task's error and
    exit code. Tasks that had failed before the run do not count.
  - A task stays pending for 10 seconds with a scheduler error (C(no suitable node) followed
    by the reason), because no node meets a placement constraint or has the resources the
    service reserves. The module does not wait for O(timeout) then.
  - Someone else changes the replica count while the module waits.
  - O(timeout) passes first. The message gives the wanted and running counts, the states of
    the current tasks, every task state seen while waiting, and the tasks' errors.
  - Must run on a Swarm manager (the API for services and tasks only answers there).
author:
  - AdvWell platform engineers (!UNKNOWN)
extends_documentation_fragment:
  - community.docker.docker.api_documentation
options:
  name:
    description:
      - Name (or full ID) of the service. A service that does not exist is an error; this
        module never creates one.
    type: str
    required: true
  replicas:
    description:
      - The number of tasks that must run. Must be 0 or more.
    type: int
    required: true
  allow_zero:
    description:
      - Allow O(replicas=0), which stops every task of the service. Without it, V(0) is
        rejected so that a typo or an empty variable cannot take a service down.
    type: bool
    default: false
  wait:
    description:
      - Wait until the service has converged on O(replicas), or fail as described above.
      - With V(false), returns as soon as the replica count is written.
      - Also applies when the replica count is already right (the result is then not
        changed, but the running tasks are still verified).
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for convergence (O(wait=true)). Must be more than 0.
      - Unlike in other community.docker modules, this is not the timeout of a single API
        request; that one is E(DOCKER_TIMEOUT) or 60 seconds.
    type: int
    default: 300
  poll_interval:
    description:
      - Seconds between two looks at the service and its tasks while waiting. Must be more than 0.
    type: float
    default: 1
  updates_since:
    description:
      - Epoch seconds when the current run started, e.g. just before a C(docker stack deploy).
      - A rollback that completed and had started before this time is from an earlier run.
        The service runs the spec it rolled back to, and Docker keeps reporting the rollback
        until the next update. Such a service is scaled and checked like any other.
      - Without it, every rolled-back update is a failure. Paused updates always are.
    type: float
notes:
  - Uses community.docker's own Docker API client, so it needs the Python library C(requests)
    on the managed host but not the Docker SDK for Python. With the default O(docker_host) it
    talks to the engine's Unix socket on the managed host.
  - Like C(docker service scale), the change becomes the service's C(PreviousSpec), so a later
    C(docker service rollback) returns to the replica count before this change.
  - Only replicated services can be scaled. Global services and jobs are rejected.
attributes:
  check_mode:
    support: full
    description: Reads the service and reports whether the replica count would change; writes
      nothing and does not wait.
  diff_mode:
    support: full
    description: Shows the replica count before and after.
seealso:
  - module: community.docker.docker_swarm_service
  - module: community.docker.docker_swarm_service_info
"""

EXAMPLES = r"""
- name: Run three backend tasks and wait until they all run
  advwell.platform.swarm_scale:
    name: advwell_backend
    replicas: 3
    timeout: 120

- name: Stop the worker for the migration
  advwell.platform.swarm_scale:
    name: advwell_worker
    replicas: 0
    allow_zero: true

- name: Set the count and move on (no waiting)
  advwell.platform.swarm_scale:
    name: advwell_backend
    replicas: 2
    wait: false

- name: Scale on a manager reached over TCP with TLS
  advwell.platform.swarm_scale:
    name: advwell_backend
    replicas: 2
    docker_host: tcp://198.51.100.10:2376
    validate_certs: true
    ca_path: /etc/advwell/docker/ca.pem
    client_cert: /etc/advwell/docker/cert.pem
    client_key: /etc/advwell/docker/key.pem
"""

RETURN = r"""
service:
  description: Name of the service.
  returned: always
  type: str
  sample: advwell_backend
replicas_before:
  description: The service's replica count before this run.
  returned: when the service was found
  type: int
  sample: 1
replicas:
  description: The replica count asked for (in check mode, the one it would be set to).
  returned: always
  type: int
  sample: 3
running:
  description: Number of the service's tasks running at the end.
  returned: when the service was found
  type: int
  sample: 3
tasks:
  description:
    - The service's current tasks at the end (those meant to run and those not stopped yet;
      not the history Docker keeps), sorted by slot.
    - On failure because tasks failed, also the failed tasks of this run.
  returned: when the service was found
  type: list
  elements: dict
  contains:
    id:
      description: Task ID.
      type: str
    slot:
      description: Slot number of the task.
      type: int
    node:
      description: Hostname of the node the task is on (its ID when the name is unknown; null
        before scheduling).
      type: str
    state:
      description: Current state (C(Status.State)), for example V(running), V(starting),
        V(pending), V(failed).
      type: str
    desired_state:
      description: The state the Swarm wants the task in.
      type: str
    error:
      description: The task's error (C(Status.Err)), or null.
      type: str
  sample:
    - {id: 3pifu8nmrq18dzhvyue9s5mua, slot: 1, node: vps-app, state: running,
       desired_state: running, error: null}
waited:
  description: Seconds spent waiting for convergence (0 in check mode and with O(wait=false)).
  returned: when the service was found
  type: float
  sample: 4.2
diff:
  description: The replica count before and after (with C(--diff)).
  returned: when diff mode is on and the service was found
  type: dict
  sample: {before: {replicas: 1}, after: {replicas: 3}}
"""

import time

from ansible_collections.community.docker.plugins.module_utils.common_api import (
    AnsibleDockerClient,
    RequestException,
)
from ansible_collections.community.docker.plugins.module_utils._api.errors import APIError, NotFound
from ansible_collections.community.docker.plugins.module_utils._api.utils.utils import convert_filters

from ansible_collections.advwell.platform.plugins.module_utils.swarm_scale import (
    FAILED, CONVERGED, Convergence, current_replicas, is_current, running_count, scaled_spec,
    service_mode, summarize, update_problem)

UPDATE_ATTEMPTS = 3


class SwarmClient(AnsibleDockerClient):
    """community.docker's API client; this module's `timeout` is the convergence wait.

    community.docker uses an option `timeout` for the timeout of each API request. Here it
    is the wait, so the requests get E(DOCKER_TIMEOUT) or community.docker's default.
    """

    def _get_params(self):
        return dict(self.module.params, timeout=None)


class Scaler:
    def __init__(self, client):
        self.client = client
        self.module = client.module
        self.name = self.module.params["name"]
        self.replicas = self.module.params["replicas"]
        self.result = {"changed": False, "service": self.name, "replicas": self.replicas}
        self.node_names = {}

    def fail(self, msg, tasks=None, extra_tasks=()):
        if tasks is not None:
            self.result.update(self.outcome(tasks, extra_tasks))
        self.module.fail_json(msg=msg, **self.result)

    def get(self, what, path, *args, **kwargs):
        """GET path as JSON; None when Docker answers 404."""
        try:
            return self.client.get_json(path, *args, **kwargs)
        except NotFound:
            return None
        except (APIError, RequestException) as error:
            self.fail(f"service {self.name}: cannot {what}: {error}")

    def inspect(self):
        service = self.get("read the service", "/services/{0}", self.name)
        # The API also resolves ID prefixes; only the exact name or ID is this service.
        if service is None or self.name not in (service["Spec"].get("Name"), service.get("ID")):
            self.fail(f"service {self.name} not found: no Swarm service has that name")
        return service

    def tasks(self, service):
        filters = convert_filters({"service": [service["ID"]]})
        tasks = self.get("list the tasks", "/tasks", params={"filters": filters}) or []
        return [task for task in tasks if task.get("ServiceID") == service["ID"]]

    def load_node_names(self):
        """Node ID to hostname, for the result; without it the result shows node IDs."""
        try:
            nodes = self.client.get_json("/nodes")
        except (APIError, RequestException):
            return
        self.node_names.update((node["ID"], (node.get("Description") or {}).get("Hostname") or node["ID"])
                               for node in nodes)

    def outcome(self, tasks, extra_tasks=()):
        shown = [task for task in tasks if is_current(task)]
        shown += [task for task in extra_tasks if task not in shown]
        shown.sort(key=lambda task: (task.get("Slot") or 0, task.get("ID")))
        return {"running": running_count(tasks),
                "tasks": [summarize(task, self.node_names) for task in shown]}

    def refuse(self, service):
        mode = service_mode(service)
        if mode != "replicated":
            self.fail(f"service {self.name} is a {mode} service; only replicated services can be scaled")
        problem = update_problem(service, self.module.params["updates_since"])
        if problem:
            self.fail(f"service {self.name}: {problem}; not scaling a service whose update did not "
                      f"complete (deploy it successfully first)", tasks=self.tasks(service))

    def scale(self, service):
        """Writes the new count; returns the count it replaced (the service may have been read
        again when a concurrent change made Docker refuse the first write)."""
        for attempt in range(1, UPDATE_ATTEMPTS + 1):
            before = current_replicas(service)
            if before == self.replicas:
                return before
            try:
                response = self.client.post_json_to_json(
                    "/services/{0}/update", service["ID"], data=scaled_spec(service, self.replicas),
                    params={"version": service["Version"]["Index"]})
            except NotFound:
                self.fail(f"service {self.name} not found: it was removed while being scaled")
            except APIError as error:
                if "out of sequence" not in str(error) or attempt == UPDATE_ATTEMPTS:
                    self.fail(f"service {self.name}: cannot update the replica count: {error}")
                service = self.inspect()
                self.refuse(service)
                continue
            except RequestException as error:
                self.fail(f"service {self.name}: cannot update the replica count: {error}")
            self.client.report_warnings(response)
            return before

    def wait(self, watch):
        timeout = self.module.params["timeout"]
        poll_interval = self.module.params["poll_interval"]
        started = time.monotonic()
        while True:
            service = self.inspect()
            tasks = self.tasks(service)
            now = time.monotonic()
            verdict = watch.check(service, tasks, now, wall_now=time.time())
            self.result["waited"] = round(now - started, 1)
            if verdict.outcome == FAILED:
                self.fail(verdict.message, tasks=tasks, extra_tasks=watch.new_failures)
            if verdict.outcome == CONVERGED:
                return tasks
            if now - started >= timeout:
                self.fail(watch.timeout_message(tasks, timeout), tasks=tasks)
            time.sleep(max(0.0, min(poll_interval, started + timeout - now)))

    def run(self):
        params = self.module.params
        if self.replicas < 0:
            self.fail(f"replicas must be 0 or more, got {self.replicas}")
        if self.replicas == 0 and not params["allow_zero"]:
            self.fail(f"replicas=0 would stop every task of service {self.name}; "
                      f"set allow_zero=true if that is what you want")
        if params["timeout"] <= 0:
            self.fail(f"timeout must be more than 0 seconds, got {params['timeout']}")
        if params["poll_interval"] <= 0:
            self.fail(f"poll_interval must be more than 0 seconds, got {params['poll_interval']}")

        service = self.inspect()
        self.refuse(service)
        self.load_node_names()
        before = current_replicas(service)
        tasks = self.tasks(service)
        watch = Convergence(self.name, self.replicas, tasks, updates_since=params["updates_since"])
        watch.node_names = self.node_names
        self.result.update(replicas_before=before, changed=before != self.replicas, waited=0.0)
        if self.module._diff:
            self.result["diff"] = {"before": {"replicas": before}, "after": {"replicas": self.replicas}}

        if not self.module.check_mode:
            before = self.scale(service)
            self.result.update(replicas_before=before, changed=before != self.replicas)
            if "diff" in self.result:
                self.result["diff"]["before"]["replicas"] = before
            tasks = self.wait(watch) if params["wait"] else self.tasks(service)
        self.result.update(self.outcome(tasks))
        self.module.exit_json(**self.result)


def main():
    argument_spec = dict(
        name=dict(type="str", required=True),
        replicas=dict(type="int", required=True),
        allow_zero=dict(type="bool", default=False),
        wait=dict(type="bool", default=True),
        timeout=dict(type="int", default=300),
        poll_interval=dict(type="float", default=1.0),
        updates_since=dict(type="float"),
    )
    client = SwarmClient(argument_spec=argument_spec, supports_check_mode=True)
    Scaler(client).run()


if __name__ == "__main__":
    main()
