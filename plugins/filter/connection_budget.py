"""Filter computing the database connection budget (logic in module_utils/connection_budget.py)."""
from ansible.errors import AnsibleFilterError

from ansible_collections.advwell.platform.plugins.module_utils.connection_budget import (
    BudgetError, connection_budget as compute)


def connection_budget(replicas, pool_size, max_connections, exporter=0, backup_jobs=0, reserved=0):
    """The budget for ``replicas`` backend replicas; see the filter's documentation."""
    try:
        return compute(replicas, pool_size, max_connections, exporter, backup_jobs, reserved)
    except BudgetError as error:
        raise AnsibleFilterError(f"connection_budget: {error}") from None


class FilterModule:
    def filters(self):
        return {"connection_budget": connection_budget}
