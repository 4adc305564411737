"""Whether a Swarm service has converged on its replica count, decided from plain data.

Everything here works on the dicts the Docker Engine API returns for a service
(GET /services/{id}) and its tasks (GET /tasks), so it is tested without Docker.
The module advwell.platform.swarm_scale does the API calls and the waiting.

A service has converged when exactly the wanted number of its tasks run, every one of
them is meant to run, and no task that is meant to run is still on its way (a scale-down
is done when the removed tasks have stopped, not when they are marked for removal), and
the running tasks have been running for STABLE_SECONDS, and no update is in progress.
How long a task has been running comes from its status timestamp when the caller passes
the wall clock (a service untouched for hours converges at the first look), else from
when this run first saw it running.
It is failing when its update is paused or rolled back, when MAX_TASK_FAILURES of its
tasks failed or were rejected since the run started, or when a task has waited
NO_NODE_GRACE seconds for a node the scheduler cannot find.
"""
import copy
from collections import Counter, namedtuple
from datetime import datetime, timezone

# Tasks that failed or were rejected since the run started before the service counts as
# failing. One failure can be a fluke (a port still held, a node going away); with a restart
# policy a broken image or command produces three within a few restart delays.
MAX_TASK_FAILURES = 3

# Seconds the wanted tasks must have been running before the service counts as
# converged, so that a command that exits right after starting is not taken for a running
# task. `docker service scale` without --detach waits as long for the same reason.
STABLE_SECONDS = 5.0

# Seconds a task may stay pending with a scheduler error ("no suitable node ...") before the
# run fails. The scheduler reports this briefly while a node rejoins or a scale-down frees
# resources; an unsatisfiable constraint or reservation reports it for good.
NO_NODE_GRACE = 10.0

FAILED_STATES = ("failed", "rejected")
# A task in one of these states does nothing any more (Docker keeps it as history).
FINISHED_STATES = ("complete", "shutdown", "failed", "rejected", "remove", "orphaned")
BAD_UPDATE_STATES = ("paused", "rollback_started", "rollback_paused", "rollback_completed")

Verdict = namedtuple("Verdict", "outcome message")
CONVERGED, WAITING, FAILED = "converged", "waiting", "failed"


def service_mode(service):
    """'replicated', 'global', 'replicated-job', 'global-job' or 'unknown'."""
    mode = service.get("Spec", {}).get("Mode") or {}
    for key, label in (("Replicated", "replicated"), ("Global", "global"),
                       ("ReplicatedJob", "replicated-job"), ("GlobalJob", "global-job")):
        if key in mode:
            return label
    return "unknown"


def current_replicas(service):
    # The API leaves Replicas out of the JSON when it is 0.
    return int((service["Spec"]["Mode"]["Replicated"] or {}).get("Replicas", 0))


def scaled_spec(service, replicas):
    """A copy of the service's spec that differs from it in the replica count only."""
    spec = copy.deepcopy(service["Spec"])
    spec["Mode"]["Replicated"] = dict(spec["Mode"]["Replicated"] or {}, Replicas=replicas)
    return spec


def rfc3339(epoch_seconds):
    """Epoch seconds as the UTC timestamps Docker writes (comparable with _timestamp_key)."""
    return datetime.fromtimestamp(epoch_seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def update_problem(service, since=None):
    """Why the service's update blocks or reverses convergence, or None.

    A rollback that completed and had started before `since` (epoch seconds) belongs to an
    earlier run: the service runs the spec it rolled back to, and Docker keeps reporting the
    rollback until the next update. Paused updates are a problem whenever they started.
    """
    status = service.get("UpdateStatus") or {}
    state = status.get("State")
    if state not in BAD_UPDATE_STATES:
        return None
    if (state == "rollback_completed" and since is not None and status.get("StartedAt")
            and _timestamp_key(status["StartedAt"]) < _timestamp_key(rfc3339(since))):
        return None
    message = status.get("Message")
    return f"update {state.replace('_', ' ')}" + (f": {message}" if message else "")


def update_in_progress(service):
    return (service.get("UpdateStatus") or {}).get("State") == "updating"


def task_state(task):
    return (task.get("Status") or {}).get("State", "unknown")


def task_error(task):
    return (task.get("Status") or {}).get("Err") or None


def exit_code(task):
    return ((task.get("Status") or {}).get("ContainerStatus") or {}).get("ExitCode")


def is_current(task):
    """Meant to run, or not stopped yet; the rest is history Docker keeps."""
    return task.get("DesiredState") == "running" or task_state(task) not in FINISHED_STATES


def running_count(tasks):
    return sum(1 for task in tasks if task_state(task) == "running")


def is_converged(tasks, replicas):
    running = [task for task in tasks if task_state(task) == "running"]
    wanted = [task for task in tasks if task.get("DesiredState") == "running"]
    return (len(running) == replicas and len(wanted) == replicas
            and all(task.get("DesiredState") == "running" for task in running))


def failed_task_ids(tasks):
    return {task["ID"] for task in tasks if task_state(task) in FAILED_STATES}


def _timestamp_key(value):
    # RFC 3339 with nanoseconds and trailing zeros cut: pad the fraction so strings sort.
    value = (value or "").rstrip("Z")
    whole, _sep, fraction = value.partition(".")
    return whole + "." + fraction.ljust(9, "0")


def epoch_seconds(value):
    """Docker's RFC 3339 UTC timestamp as epoch seconds; None when it is not one."""
    whole, _sep, fraction = (value or "").rstrip("Z").partition(".")
    try:
        moment = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    digits = fraction[:6] if fraction.isdigit() else "0"
    return moment.timestamp() + int(digits.ljust(6, "0")) / 1e6


def newest(tasks):
    return max(tasks, key=lambda task: _timestamp_key((task.get("Status") or {}).get("Timestamp")))


def summarize(task, node_names=None):
    """The short form of a task that the module returns."""
    node_id = task.get("NodeID") or None
    return {
        "id": task.get("ID"),
        "slot": task.get("Slot"),
        "node": (node_names or {}).get(node_id, node_id),
        "state": task_state(task),
        "desired_state": task.get("DesiredState"),
        "error": task_error(task),
    }


def describe(task, node_names=None):
    """'task ID (slot 2 on node vps1) failed: task: non-zero exit (3) (exit code 3)'."""
    short = summarize(task, node_names)
    where = [f"slot {short['slot']}"] if short["slot"] is not None else []
    if short["node"]:
        where.append(f"on node {short['node']}")
    text = f"task {short['id']}" + (f" ({' '.join(where)})" if where else "") + f" {short['state']}"
    if short["error"]:
        text += f": {short['error']}"
    code = exit_code(task)
    if short["state"] in FAILED_STATES and code:
        text += f" (exit code {code})"
    return text


def state_counts(tasks):
    """'running 2, starting 1' for the tasks given, or 'none'."""
    counts = Counter(task_state(task) for task in tasks)
    return ", ".join(f"{state} {count}" for state, count in sorted(counts.items())) or "none"


class Convergence:
    """Follows one service from the start of a run until it converges or fails.

    Built from the tasks that exist before anything is changed: tasks that had already
    failed then do not count against this run. check() is called with each new look at
    the service and its tasks and the current monotonic time. node_names (node ID to
    hostname) may be filled in to name nodes in messages.
    """

    def __init__(self, name, replicas, tasks_before, max_failures=MAX_TASK_FAILURES,
                 no_node_grace=NO_NODE_GRACE, stable_for=STABLE_SECONDS, updates_since=None):
        self.name = name
        self.updates_since = updates_since
        self.replicas = replicas
        self.max_failures = max_failures
        self.no_node_grace = no_node_grace
        self.stable_for = stable_for
        self.failed_before = failed_task_ids(tasks_before)
        self.pending_since = {}
        self.running_since = {}
        self.states_seen = set()
        self.new_failures = []
        self.node_names = {}

    @staticmethod
    def _started(task, now, wall_now):
        """When the task started running, on the monotonic clock. A missing or zero timestamp
        (Docker's 0001-01-01), or one ahead of the wall clock (a node's clock ahead of this
        one), counts as just started."""
        since = epoch_seconds((task.get("Status") or {}).get("Timestamp")) if wall_now is not None else None
        if since is None or since <= 0:
            return now
        return now - max(0.0, wall_now - since)

    def check(self, service, tasks, now, wall_now=None):
        """`now` is monotonic; `wall_now` (epoch seconds), when given, dates running tasks by
        their status timestamps."""
        tasks = [task for task in tasks if task.get("ServiceID") in (None, service.get("ID"))]
        current = [task for task in tasks if is_current(task)]
        self.states_seen.update(task_state(task) for task in current)

        problem = update_problem(service, self.updates_since)
        if problem:
            return Verdict(FAILED, f"service {self.name}: {problem}")
        if service_mode(service) == "replicated" and current_replicas(service) != self.replicas:
            return Verdict(FAILED, f"service {self.name}: its replica count was changed to "
                                   f"{current_replicas(service)} by someone else while waiting for "
                                   f"{self.replicas}")

        self.new_failures = [task for task in tasks if task_state(task) in FAILED_STATES
                             and task["ID"] not in self.failed_before]
        if len(self.new_failures) >= self.max_failures:
            return Verdict(FAILED, f"service {self.name}: {len(self.new_failures)} tasks failed since "
                                   f"this run started (limit {self.max_failures}); last: "
                                   f"{describe(newest(self.new_failures), self.node_names)}")

        self.running_since = {
            task["ID"]: self.running_since[task["ID"]] if task["ID"] in self.running_since
            else self._started(task, now, wall_now)
            for task in tasks if task_state(task) == "running"}
        if update_in_progress(service):
            # Between two tasks of a rolling update the counts match, but the update
            # may still fail and roll back: it has to finish first.
            return Verdict(WAITING, f"service {self.name}: update in progress, "
                                    f"{running_count(tasks)} of {self.replicas} tasks running")
        if is_converged(tasks, self.replicas):
            newest_start = max(self.running_since.values(), default=now - self.stable_for)
            if now - newest_start >= self.stable_for:
                return Verdict(CONVERGED, f"service {self.name}: {self.replicas} tasks running")
            return Verdict(WAITING, f"service {self.name}: {self.replicas} tasks running, "
                                    f"checking that they keep running")

        unschedulable = {task["ID"]: task for task in tasks
                         if task.get("DesiredState") == "running" and task_state(task) == "pending"
                         and task_error(task)}
        self.pending_since = {task_id: self.pending_since.get(task_id, now) for task_id in unschedulable}
        for task_id, since in sorted(self.pending_since.items(), key=lambda item: item[1]):
            if now - since >= self.no_node_grace:
                task = unschedulable[task_id]
                return Verdict(FAILED, f"service {self.name}: no node can take task {task_id} "
                                       f"(slot {task.get('Slot')}) after {now - since:.0f}s: "
                                       f"{task_error(task)}")
        return Verdict(WAITING, f"service {self.name}: {running_count(tasks)} of {self.replicas} "
                                f"tasks running")

    def timeout_message(self, tasks, timeout):
        current = [task for task in tasks if is_current(task)]
        message = (f"service {self.name}: timed out after {timeout:g}s waiting for {self.replicas} "
                   f"running tasks; running: {running_count(tasks)}, wanted: {self.replicas}; "
                   f"current task states: {state_counts(current)}; "
                   f"states seen: {', '.join(sorted(self.states_seen)) or 'none'}")
        errors = sorted({task_error(task) for task in current if task_error(task)})
        if errors:
            message += f"; errors: {'; '.join(errors)}"
        if self.new_failures:
            last = describe(newest(self.new_failures), self.node_names)
            message += f"; {len(self.new_failures)} failed task(s), last: {last}"
        return message
