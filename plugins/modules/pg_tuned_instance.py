#!/usr/bin/python
# Copyright: (c) 2026, AdvWell platform engineers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ensures a running PostgreSQL server has PGTune-derived and/or given settings."""

DOCUMENTATION = r"""
---
module: pg_tuned_instance
short_description: Ensure a running PostgreSQL server has tuned settings (PGTune + overrides)
version_added: 0.1.0
description:
  - Works out the settings PGTune (U(https://pgtune.leopard.in.ua)) recommends for the host
    from O(memory), O(cpus), O(storage), O(workload) and O(version), lets O(settings) override
    or extend them, and makes the server use them with C(ALTER SYSTEM SET) and a
    configuration reload (the C(pg_reload_conf) function).
  - Values are compared the way the server reads them, through C(pg_settings) (unit, type,
    range, enum values), so C(4GB), C(4096MB) and C(4194304kB) are the same shared_buffers
    and re-running changes nothing.
  - Every setting is validated against the server before any is written. An unknown setting,
    a bad unit, a value outside the server's min/max or a bad enum value fails the task
    naming the setting, and leaves C(postgresql.auto.conf) untouched.
  - A setting given on the server's command line (C(postgres -c name=value), source
    C(command line) in C(pg_settings)) takes precedence over C(ALTER SYSTEM). When such a
    setting should change, the task fails naming it instead of writing a value that would
    never apply.
  - Settings that only take effect at a restart (context C(postmaster), e.g. shared_buffers)
    are written and reported in RV(restart_required) and RV(restart_pending_settings); the
    module never restarts the server.
  - Why not C(community.postgresql.postgresql_set) or C(postgresql_alter_system)? They set one
    setting per task, do not derive PGTune's values, cannot validate a whole set of settings
    before changing any (a bad tenth setting leaves nine applied), and do not detect the
    command-line precedence trap.
author:
  - AdvWell platform engineers (!UNKNOWN)
options:
  memory:
    description:
      - RAM of the database host, in bytes or as a size such as C(16GB) or C(15990MB).
      - When given, PGTune's settings are derived; without it only O(settings) are applied.
      - PGTune's minimum is C(512MB).
    type: raw
  cpus:
    description:
      - CPU count of the host. Parallel worker settings are derived from 4 CPUs up.
    type: int
  storage:
    description: Kind of the data disk (random_page_cost, effective_io_concurrency).
    type: str
    choices: [hdd, ssd, san, nvme]
    default: ssd
  workload:
    description: PGTune's database type.
    type: str
    choices: [web, oltp, dw, mixed, desktop]
    default: web
  version:
    description:
      - PostgreSQL major version the settings are derived for. Defaults to the server's.
    type: str
  max_connections:
    description:
      - Connections the server accepts; work_mem is divided among them.
      - Defaults to C(max_connections) in O(settings), else PGTune's value for the O(workload)
        (web 200, oltp 300, dw 40, mixed 100, desktop 20).
    type: int
  settings:
    description:
      - Settings as name -> value in PostgreSQL's spelling (C(64MB), C(30s), C(on), C(0.9)).
      - They win over the derived values. YAML booleans become C(on)/C(off).
    type: dict
extends_documentation_fragment:
  - advwell.platform.postgres
attributes:
  check_mode:
    description: Runs the same comparison and validation and executes nothing.
    support: full
  diff_mode:
    description: Reports the settings that change, before and after.
    support: full
notes:
  - O(login_user) must be allowed to run C(ALTER SYSTEM) (a superuser).
  - The derived settings follow PGTune's formulas for a Linux server, see the
    C(advwell.platform.pg_tune) filter, which returns them without a server.
seealso:
  - name: PGTune
    description: The calculator whose formulas the derivation follows.
    link: https://pgtune.leopard.in.ua
  - name: ALTER SYSTEM
    description: How PostgreSQL stores server-wide settings in postgresql.auto.conf.
    link: https://www.postgresql.org/docs/current/sql-altersystem.html
"""

EXAMPLES = r"""
- name: Tune the database host for 200 law offices
  advwell.platform.pg_tuned_instance:
    memory: "{{ ansible_facts.memtotal_mb }}MB"
    cpus: "{{ ansible_facts.processor_vcpus }}"
    storage: ssd
    workload: web
    settings:
      max_connections: 500
      shared_buffers: 4GB
      effective_cache_size: 12GB
      work_mem: 64MB
      maintenance_work_mem: 1GB
      wal_buffers: 64MB
    login_host: 127.0.0.1
    login_password: "{{ vault_postgres_password }}"
  register: tuning
  notify: Restart PostgreSQL

- name: Restart when a restart-only setting changed
  ansible.builtin.debug:
    msg: "Restart needed for {{ tuning.restart_pending_settings | join(', ') }}"
  when: tuning.restart_required

- name: Only given settings, no derivation
  advwell.platform.pg_tuned_instance:
    settings:
      log_min_duration_statement: 500ms
      huge_pages: "off"
    login_host: /var/run/postgresql
"""

RETURN = r"""
settings:
  description: The desired settings (derived, then overridden), as written to the server.
  returned: always
  type: dict
  sample: {"shared_buffers": "4GB", "work_mem": "64MB", "max_connections": "500"}
executed_queries:
  description: Statements run, or in check mode the statements that would run.
  returned: always
  type: list
  elements: str
  sample: ["ALTER SYSTEM SET \"work_mem\" = '64MB'", "SELECT pg_reload_conf()"]
diff:
  description: Changed settings, their server value before (as SHOW prints it) and after.
  returned: always
  type: dict
  sample: {"before": {"work_mem": "4MB"}, "after": {"work_mem": "64MB"}}
restart_required:
  description: True when a desired setting only takes effect after a server restart.
  returned: always
  type: bool
  sample: true
restart_pending_settings:
  description: Desired settings that wait for a server restart.
  returned: always
  type: list
  elements: str
  sample: ["shared_buffers"]
version:
  description: PostgreSQL major version the settings were derived for.
  returned: always
  type: int
  sample: 15
"""

import time
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.advwell.platform.plugins.module_utils.pg_connection import (
    connect, connection_argument_spec)
from ansible_collections.advwell.platform.plugins.module_utils.pg_tune import (
    STORAGES, WORKLOADS, canonical_value, describe, major_version, normalize_settings, pg_tune,
    same_value)

try:
    import psycopg2
    from psycopg2 import errors as pg_errors
    from psycopg2 import sql
    PSYCOPG2_IMPORT_ERROR = None
except ImportError:
    PSYCOPG2_IMPORT_ERROR = traceback.format_exc()

SETTING_COLUMNS = ("name", "setting", "unit", "vartype", "min_val", "max_val", "enumvals",
                   "context", "source", "pending_restart")
RELOAD_WAIT_SECONDS = 10


def argument_spec():
    return dict(
        memory=dict(type="raw"),
        cpus=dict(type="int"),
        storage=dict(type="str", choices=list(STORAGES), default="ssd"),
        workload=dict(type="str", choices=list(WORKLOADS), default="web"),
        version=dict(type="str"),
        max_connections=dict(type="int"),
        settings=dict(type="dict"),
        **connection_argument_spec(),
    )


# ---------------------------------------------------------------- reading the server

def server_major_version(cursor):
    cursor.execute("SELECT current_setting('server_version_num')::int / 10000")
    return cursor.fetchone()[0]


def read_settings(cursor, names):
    """pg_settings rows of `names` as {name: {column: value}}."""
    cursor.execute(f"SELECT {', '.join(SETTING_COLUMNS)} FROM pg_settings WHERE name = ANY(%s)",
                   (list(names),))
    return {row[0]: dict(zip(SETTING_COLUMNS, row)) for row in cursor.fetchall()}


def read_file_values(cursor, names):
    """Last value of each setting in the configuration files, postgresql.auto.conf included.

    That is what the server runs after a reload or restart, so a setting written
    earlier but waiting for a restart compares as already set. (Such an entry has
    an error, 'setting could not be applied', so errors are not filtered out; an
    invalid value simply compares as different.) None when the role may not read
    pg_file_settings.
    """
    try:
        cursor.execute("SELECT name, setting FROM pg_file_settings "
                       "WHERE name = ANY(%s) ORDER BY seqno", (list(names),))
    except pg_errors.InsufficientPrivilege:
        return None
    return dict(cursor.fetchall())


def configured_value(row, file_values):
    """The server-wide value of a setting as text (pg_settings.setting is in base units)."""
    if row["source"] != "command line" and file_values and row["name"] in file_values:
        return file_values[row["name"]]
    return row["setting"]


# ---------------------------------------------------------------- planning

def desired_settings(params, version):
    given = normalize_settings(params["settings"] or {})
    if params["memory"] is None:
        return given
    return pg_tune(params["memory"], cpus=params["cpus"], storage=params["storage"],
                   workload=params["workload"], version=version,
                   max_connections=params["max_connections"], overrides=given)


def setting_problem(name, value, row):
    """Why `value` cannot be set for `name`, or None."""
    if row is None:
        return f"{name}: unknown setting (not in pg_settings)"
    if row["context"] == "internal":
        return f"{name}: read-only setting (context 'internal')"
    try:
        canonical_value(value, row)
    except ValueError as error:
        return f"{name}: {error}"
    return None


def current_canonical(row, file_values):
    text = configured_value(row, file_values)
    try:
        return canonical_value(text, row)
    except ValueError:
        return text  # e.g. a value out of today's range: it differs from any valid one


def plan_changes(desired, rows, file_values):
    """(changes, problems): settings whose value differs, and why any cannot be set."""
    problems = [problem for name, value in desired.items()
                if (problem := setting_problem(name, value, rows.get(name)))]
    if problems:
        return [], problems
    changes = []
    for name, value in desired.items():
        row = rows[name]
        current = current_canonical(row, file_values)
        if same_value(canonical_value(value, row), current):
            continue
        if row["source"] == "command line":
            problems.append(
                f"{name}: set to {describe(current, row)} on the server's command line "
                f"(pg_settings.source 'command line'), which takes precedence over ALTER SYSTEM; "
                f"the desired {value} would never apply. Change the server's start options.")
            continue
        changes.append(dict(name=name, before=describe(current, row), after=value,
                            context=row["context"]))
    return changes, problems


def alter_system(name, value):
    return sql.SQL("ALTER SYSTEM SET {} = {}").format(
        sql.Identifier(*name.split(".")), sql.Literal(value))


# ---------------------------------------------------------------- applying

def wait_for_reload(cursor, loaded_before):
    """Waits until this session has re-read the configuration (so new sessions see it too)."""
    deadline = time.monotonic() + RELOAD_WAIT_SECONDS
    while time.monotonic() < deadline:
        cursor.execute("SELECT pg_conf_load_time()")
        if cursor.fetchone()[0] != loaded_before:
            return True
        time.sleep(0.05)
    return False


def apply_changes(module, cursor, statements):
    """Runs the ALTER SYSTEM statements and a reload; returns the statements run."""
    executed = []
    cursor.execute("SELECT pg_conf_load_time()")
    loaded_before = cursor.fetchone()[0]
    for statement, text in statements:
        try:
            cursor.execute(statement)
        except psycopg2.Error as error:
            module.fail_json(msg=f"{text} failed: {error}".strip() + " (the statements in "
                             "executed_queries were applied; the configuration was not reloaded)",
                             executed_queries=executed)
        executed.append(text)
    cursor.execute("SELECT pg_reload_conf()")
    executed.append("SELECT pg_reload_conf()")
    if not wait_for_reload(cursor, loaded_before):
        module.warn(f"The server did not reload its configuration within {RELOAD_WAIT_SECONDS}s.")
    return executed


def restart_pending(desired, rows, changes):
    """Desired settings waiting for a restart: pending already, or restart-only and changed."""
    pending = {name for name in desired if rows.get(name, {}).get("pending_restart")}
    pending.update(change["name"] for change in changes if change["context"] == "postmaster")
    return sorted(pending)


def check_inputs(module):
    """Rejects bad parameters before connecting; returns the requested major version or None."""
    try:
        normalize_settings(module.params["settings"] or {})
        return major_version(module.params["version"])
    except ValueError as error:
        module.fail_json(msg=str(error))


def ensure_tuned(module, conn, version):
    with conn.cursor() as cursor:
        version = version or server_major_version(cursor)
        try:
            desired = desired_settings(module.params, version)
        except ValueError as error:
            module.fail_json(msg=str(error))
        rows = read_settings(cursor, desired)
        file_values = read_file_values(cursor, desired)
        if file_values is None:
            module.warn(f"{module.params['login_user']} may not read pg_file_settings; settings "
                        "waiting for a restart are compared by their running value.")
        changes, problems = plan_changes(desired, rows, file_values)
        if problems:
            module.fail_json(msg="Nothing was changed: " + "; ".join(problems), problems=problems,
                             settings=desired, executed_queries=[])
        statements = [alter_system(change["name"], change["after"]) for change in changes]
        statements = [(statement, statement.as_string(conn)) for statement in statements]
        if changes and not module.check_mode:
            executed = apply_changes(module, cursor, statements)
            rows = read_settings(cursor, desired)
        else:
            executed = [text for _statement, text in statements]
            executed += ["SELECT pg_reload_conf()"] if changes else []
    pending = restart_pending(desired, rows, changes)
    return dict(
        changed=bool(changes),
        settings=desired,
        executed_queries=executed,
        diff=dict(before={change["name"]: change["before"] for change in changes},
                  after={change["name"]: change["after"] for change in changes}),
        restart_required=bool(pending),
        restart_pending_settings=pending,
        version=version,
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           required_one_of=[("memory", "settings")])
    if PSYCOPG2_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib("psycopg2"), exception=PSYCOPG2_IMPORT_ERROR)
    version = check_inputs(module)
    try:
        conn = connect(psycopg2, module.params)  # autocommit: ALTER SYSTEM refuses a transaction block
    except psycopg2.Error as error:
        module.fail_json(msg=f"Cannot connect to PostgreSQL: {error}".strip())
    try:
        result = ensure_tuned(module, conn, version)
    except psycopg2.Error as error:
        module.fail_json(msg=f"PostgreSQL error: {error}".strip())
    finally:
        conn.close()
    module.exit_json(**result)


if __name__ == "__main__":
    main()
