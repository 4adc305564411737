"""How the collection's roles reach each other, read from the tree (no Ansible run).

    python -m tests.unit.role_interfaces [ROOT]     the counts, and each finding

Four things a change in one role can silently break in another, each counted here and
held at zero by tests/unit/test_role_interfaces.py:
  - undeclared entry points: a `tasks_from` (in roles/, playbooks/, lab/ or molecule/) that
    is not an entry point of the role's meta/argument_specs.yml;
  - cross-role defaults: `NAME | default(...)` in a role, playbook or lab file where NAME is
    another role's variable (its prefix is another role's name) or a deployment fact of the
    advwell role (advwell_*), which every role has through its dependency;
  - shell idioms: finding a Swarm task's container with `docker ps --filter
    label=com.docker.swarm.service.name=...`, `promtool query` and `amtool alert query` in a
    container, and `sshd -T` (modules swarm_task_exec and prometheus_query, and the filter
    sshd_effective and the security role's entry point sshd_state, do these once);
  - login_* tasks: a PostgreSQL task that spells its login (host, port, user, password)
    instead of taking it from module_defaults.
"""
import fnmatch
import os
import re
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCANNED = ("roles", "playbooks", "lab", "molecule")
DEPLOYMENT_ROLE = "advwell"
DEFAULT_USE = re.compile(r"(?<![\w.'\"])([a-z_][a-z0-9_]*)((?:\.[A-Za-z_][A-Za-z0-9_]*|\[[^\]]*\])*)\s*\|\s*default\(")
SHELL_IDIOMS = {
    "docker ps --filter label=com.docker.swarm.service.name": re.compile(r"docker ps[^\n|]*--filter[= ]label=com\.docker\.swarm\.service\.name"),
    "promtool query": re.compile(r"promtool query"),
    "amtool alert query": re.compile(r"amtool alert query"),
    "sshd -T": re.compile(r"sshd -T"),
}
# Where each is done once: runbook templates are commands a person types (they name the idiom
# once, in a macro), sshd_state.yml is the one place that runs sshd -T, and the argument
# specs are documentation.
SHELL_IDIOM_EXEMPT = ("roles/docs/templates/", "roles/security/tasks/sshd_state.yml", "roles/*/meta/")
# Who logs in where; login_db, the database a task works on, is the task's own.
LOGIN_ARGUMENTS = {"login_host", "login_port", "login_user", "login_password", "login_unix_socket"}
INCLUDE_ROLE_KEYS = {"include_role", "import_role", "ansible.builtin.include_role", "ansible.builtin.import_role"}
TASK_KEYWORDS = {"name", "when", "vars", "loop", "loop_control", "register", "module_defaults", "block", "rescue",
                 "always", "environment", "args", "delegate_to", "run_once", "changed_when", "failed_when",
                 "notify", "tags", "become", "no_log", "check_mode", "until", "retries", "delay", "listen",
                 "ignore_errors", "ignore_unreachable", "diff", "throttle", "timeout", "async", "poll"}


def roles(root=ROOT):
    return sorted(name for name in os.listdir(os.path.join(root, "roles"))
                  if os.path.isdir(os.path.join(root, "roles", name)))


def files(root=ROOT, suffixes=(".yml", ".yaml", ".j2")):
    for top in SCANNED:
        for folder, _dirs, names in os.walk(os.path.join(root, top)):
            if "/lab/images" in folder or "__pycache__" in folder:
                continue
            for name in sorted(names):
                if name.endswith(suffixes):
                    path = os.path.join(folder, name)
                    yield os.path.relpath(path, root), path


def role_of(relative):
    """The role a file belongs to, or None (a playbook, the lab, Molecule)."""
    parts = relative.split(os.sep)
    return parts[1] if parts[0] == "roles" else None


def owner(name, role_names):
    """The role whose variable `name` is, by its prefix (the longest role name that fits)."""
    if name.startswith(DEPLOYMENT_ROLE + "_"):
        return DEPLOYMENT_ROLE
    owners = [role for role in role_names if name.startswith(role + "_")]
    return max(owners, key=len) if owners else None


def _yaml_documents(path):
    with open(path, encoding="utf-8") as handle:
        try:
            return [doc for doc in yaml.safe_load_all(handle) if doc is not None]
        except yaml.YAMLError:
            return []


def _walk(node, skip=()):
    if isinstance(node, dict):
        yield node
        for key, value in node.items():
            if key not in skip:
                yield from _walk(value, skip)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item, skip)


def entry_points(root=ROOT):
    """{role: set of its declared entry points}."""
    declared = {}
    for role in roles(root):
        path = os.path.join(root, "roles", role, "meta", "argument_specs.yml")
        specs = (_yaml_documents(path) or [{}])[0] if os.path.exists(path) else {}
        declared[role] = set((specs or {}).get("argument_specs", {}) or {})
    return declared


def undeclared_entry_points(root=ROOT):
    """[(file, role, tasks_from)] for every tasks_from that is not a declared entry point."""
    declared = entry_points(root)
    found = []
    for relative, path in files(root, (".yml", ".yaml")):
        for node in (n for doc in _yaml_documents(path) for n in _walk(doc)):
            for key in INCLUDE_ROLE_KEYS & set(node):
                include = node[key]
                if not isinstance(include, dict) or "tasks_from" not in include:
                    continue
                role = str(include.get("name", "")).rsplit(".", maxsplit=1)[-1]
                entry = re.sub(r"\.ya?ml$", "", str(include["tasks_from"]))
                if entry not in declared.get(role, set()):
                    found.append((relative, role, entry))
    return found


def cross_role_defaults(root=ROOT):
    """[(file, line number, variable)] where a role, playbook or lab file reads another role's
    variable, or a deployment fact, through default()."""
    role_names = roles(root)
    found = []
    for relative, path in files(root):
        if relative.startswith("molecule"):
            continue
        own = role_of(relative)
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                for match in DEFAULT_USE.finditer(line):
                    variable = match.group(1)
                    variable_owner = owner(variable, role_names)
                    if variable_owner and variable_owner != own:
                        found.append((relative, number, variable + match.group(2)))
    return found


def shell_idioms(root=ROOT):
    """[(file, line number, idiom)] for each copy of a shell idiom a module or filter does."""
    found = []
    for relative, path in files(root):
        if any(fnmatch.fnmatch(relative, pattern + "*") for pattern in SHELL_IDIOM_EXEMPT):
            continue
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                found += [(relative, number, idiom) for idiom, pattern in SHELL_IDIOMS.items() if pattern.search(line)]
    return found


def login_tasks(root=ROOT):
    """[(file, task name)] for each task that spells login_* in its module's arguments."""
    found = []
    for relative, path in files(root, (".yml", ".yaml")):
        if relative.startswith("molecule"):
            continue
        for node in (n for doc in _yaml_documents(path) for n in _walk(doc, skip=("module_defaults",))):
            for key, value in node.items():
                if key in TASK_KEYWORDS or not isinstance(value, dict):
                    continue
                if "." in key and set(map(str, value)) & LOGIN_ARGUMENTS:
                    found.append((relative, node.get("name", key)))
    return found


JINJA = re.compile(r"\{\{(.*?)\}\}|\{%(.*?)%\}", re.DOTALL)
STRING_LITERAL = re.compile(r"'[^']*'|\"[^\"]*\"")
IDENTIFIER = re.compile(r"(?<![\w.])([a-z][a-z0-9]*_[a-z0-9_]+)\b")
# Keys whose value is a Jinja expression without braces.
BARE_JINJA_KEYS = {"when", "that", "failed_when", "changed_when", "until"}
DEFINING_KEYS = {"register", "loop_var", "index_var"}


def defined_variables(root=ROOT):
    """Every variable the tree defines: the roles' defaults, vars and argument specs, the
    inventories, and what tasks set (set_fact, register, vars:, loop_var)."""
    names = set()
    for relative, path in files(root, (".yml", ".yaml")):
        for doc in _yaml_documents(path):
            if relative.startswith("roles") and re.search(r"/(defaults|vars)/", relative) and isinstance(doc, dict):
                names |= set(doc)
            for node in _walk(doc):
                for key, value in node.items():
                    if key in DEFINING_KEYS and isinstance(value, str):
                        names.add(value)
                    elif key in ("vars", "set_fact", "ansible.builtin.set_fact", "options") and isinstance(value, dict):
                        names |= set(value)
                        # A fact whose name is given to a task file (set_fact: "{{ name }}": ...).
                        names |= {item for item in value.values() if isinstance(item, str) and IDENTIFIER.fullmatch(item)}
    for folder, _dirs, file_names in os.walk(os.path.join(root, "inventory")):
        for name in file_names:
            if name.endswith((".yml", ".yaml")):
                for doc in _yaml_documents(os.path.join(folder, name)):
                    names |= {key for node in _walk(doc) for key in node if isinstance(key, str)}
    return names


def _expressions(relative, text):
    """The Jinja expressions of a file, string literals taken out: what {{ }} and {% %} hold,
    and in a YAML file the values of keys that are expressions without braces."""
    found = [a or b for a, b in JINJA.findall(text)]
    if relative.endswith((".yml", ".yaml")):
        for match in re.finditer(r"^\s*-?\s*(\w+):\s*(.+)$", text, re.MULTILINE):
            if match.group(1) in BARE_JINJA_KEYS and "{{" not in match.group(2):
                found.append(match.group(2))
        for match in re.finditer(r"^(\s*)(that|when):\s*\n((?:\1\s+- .+\n)+)", text, re.MULTILINE):
            found.append(match.group(3))
    return [STRING_LITERAL.sub("''", expression) for expression in found]


def undefined_role_variables(root=ROOT):
    """[(file, variable)] for each variable of a role (by its prefix) that an expression in
    roles/, playbooks/ or lab/ reads and the tree defines nowhere."""
    role_names = roles(root)
    defined = defined_variables(root)
    found = []
    for relative, path in files(root):
        if relative.startswith("molecule"):
            continue
        with open(path, encoding="utf-8") as handle:
            text = "\n".join(line for line in handle.read().splitlines() if not line.lstrip().startswith("#"))
        for expression in _expressions(relative, text):
            for name in IDENTIFIER.findall(expression):
                if owner(name, role_names) and name not in defined and (relative, name) not in found:
                    found.append((relative, name))
    return found


def counts(root=ROOT):
    return {"cross-role default()": cross_role_defaults(root), "shell idioms": shell_idioms(root),
            "login_* tasks": login_tasks(root), "undeclared tasks_from": undeclared_entry_points(root)}


if __name__ == "__main__":
    for title, findings in counts(sys.argv[1] if len(sys.argv) > 1 else ROOT).items():
        print(f"{title}: {len(findings)}")
        for finding in findings:
            print("   ", *finding)
