"""The password file of phase 2's copy escapes ':' and '\\' as libpq expects."""
import json
import sys

from .ansible_run import REPO_ROOT, ansible

PLAYBOOK = """
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: {python}
  tasks:
    - ansible.builtin.template:
        src: {template}
        dest: {dest}
        mode: "0600"
"""


def test_password_file_escapes_colons_and_backslashes(tmp_path):
    playbook = tmp_path / "play.yml"
    dest = tmp_path / "pgpass"
    playbook.write_text(PLAYBOOK.format(python=sys.executable, template=f"{REPO_ROOT}/roles/db_migration/templates/pgpass.j2",
                                        dest=dest))
    variables = tmp_path / "vars.json"
    variables.write_text(json.dumps({
        "db_migration_source_user": "postgres", "db_migration_source_password": "a:b\\c",
        "advwell_db_address": "198.51.100.20", "advwell_db_port": 5432,
        "advwell_db_superuser": "postgres", "advwell_postgres_password": "plain"}))
    run = ansible("ansible-playbook", "-i", "localhost,", str(playbook), "-e", f"@{variables}")
    assert run.returncode == 0, run.stdout + run.stderr
    assert dest.read_text() == ("127.0.0.1:5432:*:postgres:a\\:b\\\\c\n"
                                "198.51.100.20:5432:*:postgres:plain\n")
