"""The roles reach each other only through what they declare (tests/unit/role_interfaces.py
reads the tree): a fact has one source, an included task file is a declared entry point, a
repeated shell idiom is a module, a login comes from module_defaults. Each guard is also run on a
planted copy, so it is shown to fail."""
import os
import shutil

import pytest
import yaml

from tests.unit import role_interfaces

ROOT = role_interfaces.ROOT


def findings(found):
    return "\n".join(" ".join(map(str, finding)) for finding in found)


def test_every_tasks_from_is_a_declared_entry_point():
    assert role_interfaces.undeclared_entry_points() == [], findings(role_interfaces.undeclared_entry_points())


def test_no_role_reads_another_roles_variable_through_default():
    assert role_interfaces.cross_role_defaults() == [], findings(role_interfaces.cross_role_defaults())


def test_no_shell_copy_of_what_a_module_or_filter_does():
    assert role_interfaces.shell_idioms() == [], findings(role_interfaces.shell_idioms())


def test_postgresql_logins_come_from_module_defaults():
    assert role_interfaces.login_tasks() == [], findings(role_interfaces.login_tasks())


def test_every_role_variable_that_is_read_is_defined():
    """A variable with a role's prefix that nothing defines is a typo that a default() hides:
    the lab's latency proxy read db_vps_container_name (the variable was db_vps_container)."""
    assert role_interfaces.undefined_role_variables() == [], findings(role_interfaces.undefined_role_variables())


@pytest.mark.parametrize("role", role_interfaces.roles())
def test_argument_specs_declare_the_defaults(role):
    """Every default is an option of an entry point, with the same default where it is a plain
    value; every option named after the role is a default, a role var or required of the caller."""
    with open(os.path.join(ROOT, "roles", role, "defaults", "main.yml"), encoding="utf-8") as handle:
        defaults = yaml.safe_load(handle) or {}
    variables_path = os.path.join(ROOT, "roles", role, "vars", "main.yml")
    variables = {}
    if os.path.exists(variables_path):
        with open(variables_path, encoding="utf-8") as handle:
            variables = yaml.safe_load(handle) or {}
    with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml"), encoding="utf-8") as handle:
        specs = yaml.safe_load(handle)["argument_specs"]
    options = {name: option for spec in specs.values() for name, option in (spec.get("options") or {}).items()}
    assert sorted(set(defaults) - set(options)) == []
    assert sorted(name for name, option in options.items() if name.startswith(role + "_") and name not in defaults
                  and name not in variables and not option.get("required")) == []
    differing = {name: (options[name]["default"], value) for name, value in defaults.items()
                 if "default" in options[name] and "{{" not in str(value) and options[name]["default"] != value}
    assert differing == {}


def test_every_role_depends_on_the_deployment_facts():
    for role in role_interfaces.roles():
        if role == role_interfaces.DEPLOYMENT_ROLE:
            continue
        with open(os.path.join(ROOT, "roles", role, "meta", "main.yml"), encoding="utf-8") as handle:
            dependencies = yaml.safe_load(handle)["dependencies"]
        assert {"role": "advwell.platform.advwell"} in dependencies, role


# --- the guards fail when something is planted ----------------------------------------------

@pytest.fixture
def planted(tmp_path):
    """A copy of roles/ and playbooks/ to plant things in."""
    for top in ("roles", "playbooks"):
        shutil.copytree(os.path.join(ROOT, top), tmp_path / top)
    return tmp_path


def new(guard, planted_root):
    """What a guard finds in the planted copy and not in the tree it was copied from."""
    before = guard(ROOT)
    return [finding for finding in guard(str(planted_root)) if finding not in before]


def test_a_planted_copy_of_another_roles_default_is_found(planted):
    defaults = planted / "roles" / "monitoring" / "defaults" / "main.yml"
    defaults.write_text(defaults.read_text() + 'monitoring_copied_port: "{{ app_vps_backend_port | default(3000) }}"\n')
    found = new(role_interfaces.cross_role_defaults, planted)
    assert [(path, variable) for path, _line, variable in found] == [
        ("roles/monitoring/defaults/main.yml", "app_vps_backend_port")]


def test_a_planted_copy_of_a_deployment_fact_is_found(planted):
    tasks = planted / "playbooks" / "phase3_optimize.yml"
    tasks.write_text(tasks.read_text().replace("name: advwell.platform.app_vps",
                                               "name: advwell.platform.app_vps\n      vars:\n"
                                               "        stack: \"{{ advwell_stack_name | default('advtom') }}\""))
    found = new(role_interfaces.cross_role_defaults, planted)
    assert [(path, variable) for path, _line, variable in found] == [("playbooks/phase3_optimize.yml", "advwell_stack_name")]


def test_a_planted_undeclared_include_is_found(planted):
    tasks = planted / "roles" / "status" / "tasks" / "main.yml"
    tasks.write_text(tasks.read_text() + "\n- name: Planted\n  ansible.builtin.include_role:\n"
                     "    name: advwell.platform.db_vps\n    tasks_from: container.yml\n")
    assert new(role_interfaces.undeclared_entry_points, planted) == [("roles/status/tasks/main.yml", "db_vps", "container")]


def test_a_planted_shell_idiom_and_login_are_found(planted):
    tasks = planted / "roles" / "capacity" / "tasks" / "main.yml"
    tasks.write_text(tasks.read_text() + """
- name: Planted shell
  ansible.builtin.shell: docker exec "$(docker ps -q --filter label=com.docker.swarm.service.name=x | head -n 1)" promtool query instant up
- name: Planted login
  community.postgresql.postgresql_query:
    query: SELECT 1
    login_host: 127.0.0.1
""")
    assert [idiom for _path, _line, idiom in new(role_interfaces.shell_idioms, planted)] == [
        "docker ps --filter label=com.docker.swarm.service.name", "promtool query"]
    assert new(role_interfaces.login_tasks, planted) == [("roles/capacity/tasks/main.yml", "Planted login")]


def test_a_planted_undefined_variable_is_found(planted):
    tasks = planted / "roles" / "db_backup" / "tasks" / "drill.yml"
    tasks.write_text(tasks.read_text() + "\n- name: Planted\n  ansible.builtin.debug:\n    msg: \"{{ db_vps_container_name }}\"\n")
    assert new(role_interfaces.undefined_role_variables, planted) == [("roles/db_backup/tasks/drill.yml", "db_vps_container_name")]
