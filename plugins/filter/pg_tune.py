"""Filter: PGTune's PostgreSQL settings for a host (logic in module_utils/pg_tune.py)."""
from ansible.errors import AnsibleFilterError

from ansible_collections.advwell.platform.plugins.module_utils import pg_tune as tuning


def pg_tune(memory, cpus=None, storage="ssd", workload="web", version=None,
            max_connections=None, overrides=None):
    """{setting: value} as PGTune derives it, e.g. '16GB' | pg_tune(cpus=4, version=16).

    memory is bytes or a size string ('16GB', '15990MB'); overrides (a dict) win.
    """
    try:
        return tuning.pg_tune(memory, cpus=cpus, storage=storage, workload=workload,
                              version=version, max_connections=max_connections,
                              overrides=overrides)
    except ValueError as error:
        raise AnsibleFilterError(f"pg_tune: {error}") from error


class FilterModule:
    def filters(self):
        return {"pg_tune": pg_tune}
