"""Runs ansible-playbook / ansible-inventory from the checkout for tests."""
import os
import subprocess
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def ansible(tool, *args, cwd=REPO_ROOT, env=None):
    full_env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"),
                    ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    full_env.update(env or {})
    return subprocess.run([os.path.join(BIN, tool), *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=600, check=False)


def run_module(tmp_path, module, args, check_mode=False, verbosity="-v", host=None,
               connection="community.docker.docker", interpreter="/usr/bin/python3", diff=False):
    """Runs one module task the way a playbook does; returns (registered result, the run).

    By default the module runs on this machine. With `host` it runs there through
    `connection` (by default inside the Docker container named `host`, with the container's
    `interpreter`); the result is still kept on this machine. `diff` is --diff for the task.
    """
    import json

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


ROLE_PLAYBOOK = """
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: {interpreter}
  tasks:
    - ansible.builtin.include_role:
        name: advwell.platform.{role}
        tasks_from: {entry}
"""


def run_role(tmp_path, role, entry, variables, check_mode=False):
    """Runs one entry point of a collection role on this machine, with `variables` as extra vars."""
    import json

    playbook = tmp_path / "play.yml"
    # This Python (it has the collection's requirements), not whatever interpreter discovery finds.
    playbook.write_text(ROLE_PLAYBOOK.format(role=role, entry=entry, interpreter=sys.executable))
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps(variables))
    return ansible("ansible-playbook", *(["--check"] if check_mode else []), "-i", "localhost,", str(playbook),
                   "-e", f"@{extra}")
