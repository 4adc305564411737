#!/usr/bin/python
# Copyright: (c) 2026, AdvWell platform engineers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Measures the round trip of a trivial query on one open PostgreSQL connection."""

DOCUMENTATION = r"""
---
module: pg_round_trip
short_description: Time a trivial query on an open PostgreSQL connection, as a pooled client sees it
version_added: 0.1.0
description:
  - Opens one connection (its TLS handshake and login are not timed), runs C(SELECT 1)
    O(samples) times on it, and returns the time each took, in milliseconds. That is the
    round trip between the host it runs on and the server, plus the server's trivial work,
    which every query of a pooled client pays on top of its own execution.
  - Phase 7 feeds the median into the capacity model (pool size over round trip), run from
    the app host, where the backend's connections start.
  - Read-only; runs the same in check mode.
  - Why a module? C(community.postgresql.postgresql_query) opens a new connection per task,
    so its timing is the connection set-up, not the round trip a pooled query pays.
author:
  - AdvWell platform engineers (!UNKNOWN)
extends_documentation_fragment:
  - advwell.platform.postgres
options:
  samples:
    description: How many queries to time (one untimed query warms the connection first).
    type: int
    default: 20
attributes:
  check_mode:
    support: full
    description: Reads only; the same in check mode.
  diff_mode:
    support: none
    description: Only reads, so there is nothing to show as a diff.
"""

EXAMPLES = r"""
- name: Measure the round trip from the app host to the database
  advwell.platform.pg_round_trip:
    login_host: 198.51.100.20
    login_user: advwell_app
    login_password: "{{ vault_app_db_password }}"
    login_db: advtom
    ssl_mode: verify-full
    ca_cert: /etc/advwell/tls/db-ca.crt
  register: round_trip

- name: Show it
  ansible.builtin.debug:
    msg: "{{ round_trip.median_ms }} ms between the hosts"
"""

RETURN = r"""
median_ms:
  description: The median time of one query, in milliseconds.
  returned: success
  type: float
min_ms:
  description: The fastest query.
  returned: success
  type: float
max_ms:
  description: The slowest query.
  returned: success
  type: float
samples_ms:
  description: Every query's time, in the order they ran.
  returned: success
  type: list
  elements: float
"""

import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.advwell.platform.plugins.module_utils.pg_connection import (
    connect, connection_argument_spec)

try:
    import psycopg2
    HAS_PSYCOPG2 = True
except ImportError:
    HAS_PSYCOPG2 = False


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def time_queries(cursor, samples, clock=time.perf_counter):
    """Milliseconds of each of `samples` trivial queries, after one untimed."""
    cursor.execute("SELECT 1")
    cursor.fetchall()
    times = []
    for _sample in range(samples):
        started = clock()
        cursor.execute("SELECT 1")
        cursor.fetchall()
        times.append(round((clock() - started) * 1000, 3))
    return times


def main():
    module = AnsibleModule(
        argument_spec=dict(connection_argument_spec(), samples=dict(type="int", default=20)),
        supports_check_mode=True,
    )
    if not HAS_PSYCOPG2:
        module.fail_json(msg=missing_required_lib("psycopg2"))
    samples = module.params["samples"]
    if not 1 <= samples <= 10000:
        module.fail_json(msg=f"samples: must be 1 to 10000, got {samples}")
    try:
        conn = connect(psycopg2, module.params)
    except psycopg2.Error as error:
        module.fail_json(msg=f"cannot connect to {module.params['login_host']}: {str(error).strip()}")
    try:
        with conn.cursor() as cursor:
            times = time_queries(cursor, samples)
    except psycopg2.Error as error:
        module.fail_json(msg=f"the query failed: {str(error).strip()}")
    finally:
        conn.close()
    module.exit_json(changed=False, median_ms=round(median(times), 3), min_ms=min(times),
                     max_ms=max(times), samples_ms=times)


if __name__ == "__main__":
    main()
