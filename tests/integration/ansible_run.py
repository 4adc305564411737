"""Runs ansible-playbook / ansible-inventory from the checkout for tests."""
import json
import os
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


def run_module_cases(tmp_path, module, cases, host=None, connection="community.docker.docker",
                     interpreter="/usr/bin/python3", verbosity="-v", diff=False):
    """Runs `module` once per case, in order, in one ansible-playbook (a start costs seconds, a
    task a fraction of one); a case is its arguments (a dict), or (arguments, check_mode), and a
    failed case does not stop the next, but a module that crashed (MODULE FAILURE) fails the test.
    Returns (the registered results in the cases' order, the run).

    By default the module runs on this machine. With `host` it runs there through `connection`
    (by default inside the Docker container named `host`, with the container's `interpreter`);
    the results are still kept on this machine. `diff` is --diff for every case.
    """
    result_file = tmp_path / "results.json"
    result_file.unlink(missing_ok=True)
    tasks = []
    for index, case in enumerate(cases):
        args, check_mode = case if isinstance(case, tuple) else (case, False)
        tasks.append({"name": f"Case {index}", module: args, "check_mode": check_mode, "diff": diff,
                      "ignore_errors": True, "register": f"case_{index}"})
    keep_task = {"name": "Keep the results",
                 "ansible.builtin.copy": {"content": "{{ [" + ", ".join(f"case_{index}" for index in range(len(cases)))
                                                     + "] | to_json }}",
                                          "dest": str(result_file), "mode": "0600"}}
    if host is None:
        play = {"hosts": "localhost", "connection": "local",
                "vars": {"ansible_python_interpreter": sys.executable}}
        inventory = "localhost,"
    else:
        # Connection settings are the host's (not the play's), so that the results can be
        # written by the implicit localhost. Pipelining saves the file copies per task.
        play = {"hosts": host}
        keep_task["delegate_to"] = "localhost"
        inventory_file = tmp_path / "inventory.yml"
        inventory_file.write_text(json.dumps({"all": {"hosts": {host: {
            "ansible_connection": connection, "ansible_python_interpreter": interpreter,
            "ansible_pipelining": True}}}}))
        inventory = str(inventory_file)
    playbook_file = tmp_path / "playbook.yml"
    playbook_file.write_text(json.dumps([{"name": f"Run {module}", **play, "gather_facts": False,
                                          "tasks": [*tasks, keep_task]}]))  # JSON is YAML
    run = ansible("ansible-playbook", verbosity, "-i", inventory, str(playbook_file))
    assert result_file.exists(), run.stdout + run.stderr
    results = json.loads(result_file.read_text())
    # A module that crashed, rather than failed as designed, fails every test that ran it.
    assert not [result for result in results if "MODULE FAILURE" in str(result.get("msg", ""))], run.stdout + run.stderr
    return results, run


def run_module(tmp_path, module, args, check_mode=False, verbosity="-v", host=None,
               connection="community.docker.docker", interpreter="/usr/bin/python3", diff=False):
    """Runs one module task the way a playbook does (run_module_cases with one case); returns
    (its registered result, the run)."""
    results, run = run_module_cases(tmp_path, module, [(args, check_mode)], host, connection, interpreter,
                                    verbosity, diff)
    return results[0], run


def run_playbook(*args, env=None):
    """Runs ansible-playbook with the ansible.posix.json callback; returns (report, the run).

    The report is the callback's JSON: "plays" (each with its "tasks", each task with
    "hosts": {host: its result}) and "stats" ({host: {"ok", "changed", "failures", ...}}).
    Results are whole values keyed by host and task, so a test asserts on a message itself,
    never on the default callback's text, which folds long lines and prints a repeated error
    only for whichever host reaches it first.
    """
    run = ansible("ansible-playbook", *args, env={"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", **(env or {})})
    try:
        report = json.loads(run.stdout)
    except ValueError:
        raise AssertionError(f"ansible-playbook wrote no JSON report (rc {run.returncode}):\n"
                             f"{run.stdout}\n{run.stderr}") from None
    return report, run


def result_status(result):
    """A task result's outcome in one word: failed, unreachable, skipped, changed or ok."""
    for status in ("failed", "unreachable", "skipped", "changed"):
        if result.get(status):
            return status
    return "ok"


def result_error(result):
    """The message a failed result gives: a loop's first failed item's, or the task's own
    (a result hidden by no_log has none: its "censored" note is returned)."""
    failed_items = [item for item in result.get("results", []) if isinstance(item, dict) and item.get("failed")]
    source = failed_items[0] if failed_items else result
    return str(source.get("msg", source.get("censored", "")))


def host_results(report):
    """{host: [its task results, in order]} of a run_playbook report. A result is {"task": the
    task's name (a role's as "role : name"), "status": result_status, "error": result_error
    when it failed, else "", "result": the whole result}."""
    results = {}
    for play in report["plays"]:
        for task in play["tasks"]:
            for host, result in task["hosts"].items():
                status = result_status(result)
                results.setdefault(host, []).append({
                    "task": task["task"]["name"], "status": status, "result": result,
                    "error": result_error(result) if status == "failed" else ""})
    return results


def run_roles(tmp_path, cases, check_mode=False):
    """Runs entry points of collection roles on this machine, every case in one ansible-playbook.

    `cases` maps a host name to (role, entry, variables); the variables are the host's, which
    take precedence over the role's defaults. Returns ({host: its task results, as
    host_results gives them}, the report, the run).
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
    report, run = run_playbook(*(["--check"] if check_mode else []), "-i", str(inventory_file), str(playbook_file))
    results = host_results(report)
    return {host: results.get(host, []) for host in cases}, report, run


def run_role(tmp_path, role, entry, variables, check_mode=False):
    """Runs one entry point of a collection role on this machine (run_roles with one case,
    the host "localhost"); returns (its task results, its stats, the run)."""
    results, report, run = run_roles(tmp_path, {"localhost": (role, entry, variables)}, check_mode)
    return results["localhost"], report["stats"].get("localhost", {}), run
