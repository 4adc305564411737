#!/usr/bin/python
# Copyright: (c) 2026, AdvWell platform engineers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reads a database's fingerprint: row counts, content checksums, sequence values."""

DOCUMENTATION = r"""
---
module: pg_fingerprint
short_description: Row counts, content checksums and sequence values of a PostgreSQL database
version_added: 0.1.0
description:
  - Reads, for every table in every schema except the system ones, its exact row count
    (C(count(*))) and a content checksum, and for every sequence its C(last_value).
  - The checksum is the sum of C(hashtextextended(row::text, 0)), PostgreSQL's 64-bit hash of
    the row as text, over all rows. It does not depend on row order or physical layout, so a
    copy made with C(pg_dump)/C(pg_restore) has the same one; it needs no sort and constant
    memory, so it works on large tables. That hash (the one hash partitioning relies on) is
    about 2.5 times cheaper than an md5 of the row, which matters because the backup job of
    phase 5 computes the same checksums while it dumps.
  - Compare two fingerprints with the filter P(advwell.platform.pg_fingerprint_mismatches#filter)
    (phase 2 verifies a migrated database this way before anything is switched).
  - Read-only; runs the same in check mode. Reads every row of every table, so it costs a
    sequential scan of the database.
  - Why a module? C(community.postgresql.postgresql_info) reports sizes and estimated row
    counts (C(reltuples)), not exact counts or content, and has no sequence values.
author:
  - AdvWell platform engineers (!UNKNOWN)
extends_documentation_fragment:
  - advwell.platform.postgres
notes:
  - O(login_user) must be able to read every table.
attributes:
  check_mode:
    support: full
    description: Reads only; the same in check mode.
  diff_mode:
    support: none
    description: Only reads, so there is nothing to show as a diff.
"""

EXAMPLES = r"""
- name: Fingerprint the source
  advwell.platform.pg_fingerprint:
    login_host: 127.0.0.1
    login_password: "{{ source_password }}"
    login_db: advtom
  register: source

- name: Fingerprint the target
  advwell.platform.pg_fingerprint:
    login_host: 198.51.100.20
    login_password: "{{ target_password }}"
    login_db: advtom
  register: target

- name: Stop unless the target holds exactly the source's data
  ansible.builtin.assert:
    that: mismatches | length == 0
    fail_msg: "differs: {{ mismatches | map(attribute='object') | unique | join(', ') }}"
  vars:
    mismatches: "{{ source.fingerprint | advwell.platform.pg_fingerprint_mismatches(target.fingerprint) }}"
"""

RETURN = r"""
fingerprint:
  description: The database's fingerprint.
  returned: success
  type: dict
  contains:
    tables:
      description: C(schema.table) to C(rows) (exact count) and C(checksum) (a decimal string).
      type: dict
      sample: {"public.cases": {"rows": 31, "checksum": "143556219482710391243"}}
    sequences:
      description: C(schema.sequence) to C(last_value) (null when never used).
      type: dict
      sample: {"public.cases_id_seq": 31}
table_count:
  description: Number of tables read.
  returned: success
  type: int
  sample: 5
row_count:
  description: Rows in all tables.
  returned: success
  type: int
  sample: 175
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.advwell.platform.plugins.module_utils.pg_connection import (
    connect, connection_argument_spec)
from ansible_collections.advwell.platform.plugins.module_utils.pg_fingerprint import fingerprint

try:
    import psycopg2
    from psycopg2 import sql
    PSYCOPG2_IMPORT_ERROR = None
except ImportError:
    PSYCOPG2_IMPORT_ERROR = traceback.format_exc()


def main():
    module = AnsibleModule(argument_spec=connection_argument_spec(), supports_check_mode=True)
    if PSYCOPG2_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib("psycopg2"), exception=PSYCOPG2_IMPORT_ERROR)
    try:
        conn = connect(psycopg2, module.params, autocommit=False)
    except psycopg2.Error as error:
        module.fail_json(msg=f"Cannot connect to PostgreSQL: {error}".strip())
    try:
        # One snapshot for every table, so the counts belong to one moment.
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with conn.cursor() as cursor:
            def quote_ident(schema, name):
                return sql.Identifier(schema, name).as_string(cursor)
            result = fingerprint(cursor, quote_ident)
        conn.rollback()
    except psycopg2.Error as error:
        module.fail_json(msg=f"Cannot read the database: {error}".strip())
    finally:
        conn.close()
    module.exit_json(changed=False, fingerprint=result, table_count=len(result["tables"]),
                     row_count=sum(table["rows"] for table in result["tables"].values()))


if __name__ == "__main__":
    main()
