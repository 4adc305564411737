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
                          capture_output=True, text=True, timeout=600)


def run_module(tmp_path, module, args, check_mode=False, verbosity="-v"):
    """Runs one module task the way a playbook does; returns (registered result, the run)."""
    import json

    result_file = tmp_path / "result.json"
    result_file.unlink(missing_ok=True)
    playbook = [{
        "name": f"Run {module}",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars": {"ansible_python_interpreter": sys.executable},
        "tasks": [
            {"name": "Run the module", module: args, "check_mode": check_mode,
             "ignore_errors": True, "register": "outcome"},
            {"name": "Keep the result",
             "ansible.builtin.copy": {"content": "{{ outcome | to_json }}", "dest": str(result_file),
                                      "mode": "0600"}},
        ],
    }]
    playbook_file = tmp_path / "playbook.yml"
    playbook_file.write_text(json.dumps(playbook))  # JSON is YAML
    run = ansible("ansible-playbook", verbosity, "-i", "localhost,", str(playbook_file))
    assert result_file.exists(), run.stdout + run.stderr
    return json.loads(result_file.read_text()), run
