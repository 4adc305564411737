"""Runs ansible-playbook / ansible-inventory from the checkout for tests."""
import json
import os
import re
import subprocess
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def ansible(tool, *args, cwd=REPO_ROOT, env=None, merge_stderr=False):
    """Runs an ansible tool of the virtualenv. With merge_stderr, its errors are in stdout
    where it printed them (stderr is then "")."""
    full_env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"),
                    ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    full_env.update(env or {})
    run = subprocess.run([os.path.join(BIN, tool), *args], cwd=cwd, env=full_env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
                         text=True, timeout=600, check=False)
    run.stderr = run.stderr or ""
    return run


def run_module(tmp_path, module, args, check_mode=False, verbosity="-v", host=None,
               connection="community.docker.docker", interpreter="/usr/bin/python3", diff=False):
    """Runs one module task the way a playbook does; returns (registered result, the run).

    By default the module runs on this machine. With `host` it runs there through
    `connection` (by default inside the Docker container named `host`, with the container's
    `interpreter`); the result is still kept on this machine. `diff` is --diff for the task.
    """

    result_file = tmp_path / "result.json"
    result_file.unlink(missing_ok=True)
    module_task = {"name": "Run the module", module: args, "check_mode": check_mode,
                   "ignore_errors": True, "register": "outcome"}
    keep_task = {"name": "Keep the result",
                 "ansible.builtin.copy": {"content": "{{ outcome | to_json }}", "dest": str(result_file),
                                          "mode": "0600"}}
    if diff:
        module_task["diff"] = True
    if host is None:
        play = {"hosts": "localhost", "connection": "local",
                "vars": {"ansible_python_interpreter": sys.executable}}
        inventory = "localhost,"
    else:
        # Connection settings are the host's (not the play's), so that the result can be
        # written by the implicit localhost. Pipelining saves the file copies per task.
        play = {"hosts": host}
        keep_task["delegate_to"] = "localhost"
        inventory_file = tmp_path / "inventory.yml"
        inventory_file.write_text(json.dumps({"all": {"hosts": {host: {
            "ansible_connection": connection, "ansible_python_interpreter": interpreter,
            "ansible_pipelining": True}}}}))
        inventory = str(inventory_file)
    playbook = [{
        "name": f"Run {module}",
        **play,
        "gather_facts": False,
        "tasks": [module_task, keep_task],
    }]
    playbook_file = tmp_path / "playbook.yml"
    playbook_file.write_text(json.dumps(playbook))  # JSON is YAML
    run = ansible("ansible-playbook", verbosity, "-i", inventory, str(playbook_file))
    assert result_file.exists(), run.stdout + run.stderr
    return json.loads(result_file.read_text()), run


# A host's result line in the default callback's output, e.g. "fatal: [firewall-1]: FAILED! => ...".
RESULT_LINE = re.compile(r"^(ok|changed|skipping|fatal|failed|rescued|ignored): \[([^\]]+)\]")


def run_roles(tmp_path, cases, check_mode=False):
    """Runs entry points of collection roles on this machine, every case in one ansible-playbook.

    `cases` maps a host name to (role, entry, variables); the variables are the host's, which
    take precedence over the role's defaults. Returns ({host: [its task results, in order]},
    the run). A result is {"task", "status", "text"}: the task's name, the word the default
    callback begins the host's line with (ok, changed, skipping, fatal ...; a loop's is failed
    when an item failed), and what it printed for the host, the error lines before the result
    included (ansible-core 2.19 prints a failed task's message there even when its result is
    hidden by no_log). It prints an error it has printed before only once, so cases that fail
    with the same message need messages of their own (the message names what is wrong).
    """

    hosts = {host: {"ansible_connection": "local",
                    # This Python (it has the collection's requirements), not whatever discovery finds.
                    "ansible_python_interpreter": sys.executable,
                    "case_entry_point": f"{role}/{entry}", **variables}
             for host, (role, entry, variables) in cases.items()}
    # One include per entry point, each for its own hosts: one include_role whose name and
    # tasks_from were templated per host would run every host the first host's entry point.
    playbook = [{
        "name": "Run each case's role entry point",
        "hosts": "all",
        "gather_facts": False,
        "tasks": [{"name": f"Run {entry_point}",
                   "ansible.builtin.include_role": {"name": f"advwell.platform.{entry_point.split('/')[0]}",
                                                    "tasks_from": entry_point.split("/")[1]},
                   "when": f"case_entry_point == '{entry_point}'"}
                  for entry_point in sorted({host["case_entry_point"] for host in hosts.values()})],
    }]
    inventory_file = tmp_path / "cases.json"  # JSON is YAML
    inventory_file.write_text(json.dumps({"all": {"hosts": hosts}}))
    playbook_file = tmp_path / "roles.json"
    playbook_file.write_text(json.dumps(playbook))
    # The error lines go with the results they precede: one stream.
    run = ansible("ansible-playbook", *(["--check"] if check_mode else []), "-i", str(inventory_file),
                  str(playbook_file), merge_stderr=True)
    results = {host: [] for host in cases}
    task, pending, current = None, [], None
    for line in run.stdout.splitlines():
        if line.startswith(("TASK [", "PLAY [", "PLAY RECAP")):
            task, pending, current = line.partition("[")[2].rpartition("]")[0], [], None
        elif (match := RESULT_LINE.match(line)) and match.group(2) in results:
            status, host_results, text = match.group(1), results[match.group(2)], "\n".join([*pending, line])
            pending = []
            if host_results and host_results[-1]["task"] == task:  # a loop's next item
                current = host_results[-1]
                current["text"] += "\n" + text
                if status in ("fatal", "failed"):
                    current["status"] = status
                continue
            current = {"task": task, "status": status, "text": text}
            host_results.append(current)
        elif current is not None and line.startswith(" "):
            current["text"] += "\n" + line
        else:
            pending.append(line)
            current = None
    return results, run


def run_role(tmp_path, role, entry, variables, check_mode=False):
    """Runs one entry point of a collection role on this machine (run_roles with one case);
    returns the run, its errors in stdout."""
    return run_roles(tmp_path, {"localhost": (role, entry, variables)}, check_mode)[1]
