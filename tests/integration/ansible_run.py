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
