# Copyright: (c) 2026, AdvWell platform engineers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lookup: variables as this collection's roles see them on a host of the inventory."""

DOCUMENTATION = r"""
name: role_vars
version_added: 0.1.0
short_description: Variables as this collection's roles see them on a host - their defaults under the inventory's values
description:
  - Returns one dictionary, the value of each named variable on O(host) as the roles named in
    O(roles) see it there when they run, in Ansible's order of precedence. The roles' own
    C(defaults/main.yml) are the lowest layer; the host's inventory variables (C(group_vars),
    C(host_vars), the hosts file) and facts are over them, the roles' C(vars/main.yml) over
    those, and extra variables (C(-e)) over everything. Every value is templated in that
    host's context.
  - So a play on one host can name what another host's roles use (a database host's paths
    from a play on the app host) without a copy of any default, and the values follow the
    inventory whenever it overrides a default.
  - The roles' defaults are read from this collection's C(roles/) directory. A role's
    dependencies (its C(meta/main.yml), such as the C(advwell) role every role depends on) are
    layered under it, as Ansible runs them first.
  - Ask only for variables that are not secrets; the values are returned as they are.
options:
  _terms:
    description: Names of the variables (strings, or lists of them).
    required: true
  host:
    description: A host of the inventory.
    type: str
    required: true
  roles:
    description: Roles of this collection whose defaults apply on O(host), lowest first.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: The database host's deploy directory, as phase 2 and phase 5 use it
  ansible.builtin.debug:
    msg: "{{ db.advwell_db_deploy_dir }} {{ db.db_backup_restore_script }}"
  vars:
    db: "{{ lookup('advwell.platform.role_vars', 'advwell_db_deploy_dir', 'db_backup_restore_script',
            host=groups['db_vps'][0], roles=['db_vps', 'db_backup']) }}"
"""

RETURN = r"""
_raw:
  description: One dictionary, each name to its value on the host.
  type: list
  elements: dict
"""

import os

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

ROLES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "roles")


def _names(terms):
    for term in terms:
        if isinstance(term, (list, tuple)):
            yield from _names(term)
        elif isinstance(term, str):
            yield term
        else:
            raise AnsibleLookupError(f"role_vars: a variable name must be a string, got {term!r}")


class LookupModule(LookupBase):
    def _role_file(self, role, kind):
        path = os.path.join(ROLES_DIR, role, kind, "main.yml")
        if not os.path.isfile(path):
            return {}
        return self._loader.load_from_file(path, trusted_as_template=True) or {}

    def _with_dependencies(self, roles):
        """The roles and, before each, its dependencies (once each, lowest first)."""
        ordered = []
        for role in roles:
            meta = self._role_file(role, "meta")
            dependencies = [dependency if isinstance(dependency, str) else dependency.get("role", dependency.get("name", ""))
                            for dependency in meta.get("dependencies") or []]
            for name in self._with_dependencies([dependency.split(".")[-1] for dependency in dependencies]) + [role]:
                if name not in ordered:
                    ordered.append(name)
        return ordered

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        host = self.get_option("host")
        hostvars = (variables or {}).get("hostvars")
        if hostvars is None or host not in hostvars:
            raise AnsibleLookupError(f"role_vars: {host!r} is not a host of the inventory")

        roles = self.get_option("roles")
        for role in roles:
            if not os.path.isdir(os.path.join(ROLES_DIR, role)):
                raise AnsibleLookupError(f"role_vars: no role {role!r} in this collection ({ROLES_DIR})")
        roles = self._with_dependencies(roles)
        # As when the roles run: their defaults, the host's inventory variables and facts
        # (whose precedence the variable manager has applied), the roles' vars, extra vars.
        layered = {}
        for role in roles:
            layered.update(self._role_file(role, "defaults"))
        layered.update(hostvars.raw_get(host))
        for role in roles:
            layered.update(self._role_file(role, "vars"))
        layered.update(getattr(getattr(hostvars, "_variable_manager", None), "extra_vars", None) or {})
        layered["hostvars"] = hostvars

        templar = self._templar.copy_with_new_env(available_variables=layered)
        values = {}
        for name in _names(terms):
            if name not in layered:
                raise AnsibleLookupError(f"role_vars: {name} is not defined on {host} "
                                         f"(neither in the inventory nor in the defaults of {self.get_option('roles')})")
            values[name] = templar.template(layered[name])
        return [values]
