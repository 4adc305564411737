"""The lookup advwell.platform.role_vars: a host's variables as the collection's roles see
them there (their defaults under the inventory, their vars over it, extra vars over all)."""
import json
import sys

from .ansible_run import ansible, host_results, run_playbook

INVENTORY = {
    "all": {
        "vars": {"advwell_db_address": "198.51.100.20"},
        "children": {
            "app_vps": {"hosts": {"app-vps": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}}},
            "db_vps": {"hosts": {"db-vps": {
                # The inventory overrides a default; another default is built on it.
                "advwell_db_deploy_dir": "/srv/advwell-db",
                "db_backup_s3_bucket": "{{ 'bucket-of-' ~ inventory_hostname }}",
            }}},
        },
    },
}


def lookup(tmp_path, expression, *extra):
    (tmp_path / "hosts.json").write_text(json.dumps(INVENTORY))
    result_file = tmp_path / "result.json"
    playbook = [{"hosts": "app-vps", "gather_facts": False, "tasks": [{
        "ansible.builtin.copy": {"content": "{{ (" + expression + ") | to_json }}", "dest": str(result_file),
                                 "mode": "0600"}}]}]
    (tmp_path / "play.yml").write_text(json.dumps(playbook))
    report, run = run_playbook("-i", str(tmp_path / "hosts.json"), str(tmp_path / "play.yml"), *extra)
    if run.returncode == 0:
        return json.loads(result_file.read_text()), run
    [result] = host_results(report)["app-vps"]
    return None, result["error"]


def test_another_hosts_values_from_the_defaults_under_its_inventory(tmp_path):
    values, run = lookup(tmp_path, "lookup('advwell.platform.role_vars', 'advwell_db_deploy_dir', ['db_backup_restore_script', "
                                   "'db_backup_s3_bucket', 'db_vps_tls_dir', 'advwell_db_container', 'db_backup_s3_prefix'], "
                                   "host='db-vps', roles=['db_vps', 'db_backup'])")
    assert values == {
        "advwell_db_deploy_dir": "/srv/advwell-db",                       # the inventory's
        "db_backup_restore_script": "/srv/advwell-db/scripts/restore.sh",   # the one deploy directory
        "db_backup_s3_bucket": "bucket-of-db-vps",                        # templated as that host
        "db_vps_tls_dir": "/srv/advwell-db/config/tls",                  # the role's vars, on the inventory
        "advwell_db_container": "advwell-postgres",                       # the advwell role's default
        "db_backup_s3_prefix": "backups/postgresql/",
    }, run.stderr


def test_extra_vars_win(tmp_path):
    values, run = lookup(tmp_path, "lookup('advwell.platform.role_vars', 'advwell_db_deploy_dir', host='db-vps', roles=['db_vps'])",
                         "-e", "advwell_db_deploy_dir=/opt/db")
    assert values == {"advwell_db_deploy_dir": "/opt/db"}, run.stdout + run.stderr


def test_unknown_names_hosts_and_roles_are_errors(tmp_path):
    for expression, message in [
        ("lookup('advwell.platform.role_vars', 'db_vps_nothing', host='db-vps', roles=['db_vps'])",
         "role_vars: db_vps_nothing is not defined on db-vps"),
        ("lookup('advwell.platform.role_vars', 'advwell_db_container', host='nowhere', roles=['db_vps'])",
         "role_vars: 'nowhere' is not a host of the inventory"),
        ("lookup('advwell.platform.role_vars', 'advwell_db_container', host='db-vps', roles=['db_nothing'])",
         "role_vars: no role 'db_nothing' in this collection"),
    ]:
        values, error = lookup(tmp_path, expression)
        assert values is None and message in error, error


def test_the_restore_playbook_asks_for_what_phase_5_and_phase_3_set_up(tmp_path):
    # An inventory that moves the backup's deploy directory and renames the database and the
    # stack, without naming the restore script: phase5_restore.yml's own variables must follow
    # (they once fell back to copies of the defaults, /root/advwell-db/scripts/restore.sh).
    import yaml

    from .ansible_run import REPO_ROOT

    with open(f"{REPO_ROOT}/playbooks/phase5_restore.yml", encoding="utf-8") as handle:
        restore_vars = yaml.safe_load(handle)[0]["vars"]
    inventory = {"all": {"children": {
        "app_vps": {"hosts": {"app-vps": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                                          "advwell_stack_name": "crm"}}},
        "db_vps": {"hosts": {"db-vps": {"advwell_db_deploy_dir": "/srv/backup", "advwell_database": "lawdb"}}},
    }}}
    (tmp_path / "hosts.json").write_text(json.dumps(inventory))
    result_file = tmp_path / "result.json"
    playbook = [{"hosts": "app-vps", "gather_facts": False, "vars": restore_vars, "tasks": [{
        "ansible.builtin.copy": {"content": "{{ [restore_script, restore_scratch, restore_service] | to_json }}",
                                 "dest": str(result_file), "mode": "0600"}}]}]
    (tmp_path / "play.yml").write_text(json.dumps(playbook))
    run = ansible("ansible-playbook", "-i", str(tmp_path / "hosts.json"), str(tmp_path / "play.yml"))
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads(result_file.read_text()) == ["/srv/backup/scripts/restore.sh", "lawdb_restore", "crm_backend"]
