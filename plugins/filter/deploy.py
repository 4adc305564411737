"""Filters running the deploy checklist's automated checks, and the backup's and drill's alone
for the status board (logic in module_utils/deploy_checks.py)."""
from ansible.errors import AnsibleFilterError

from ansible_collections.advwell.platform.plugins.module_utils.deploy_checks import (
    CheckError, backup_checks as run_backup_checks, deploy_checks as run)


def deploy_checks(now, backup_metrics, drill_metrics, alerts, backup_max_age_hours, drill_max_age_days, budget):
    """The checklist's automated results; see the filter's documentation."""
    try:
        return run(backup_metrics, drill_metrics, alerts, now, backup_max_age_hours, drill_max_age_days, dict(budget))
    except (CheckError, TypeError, ValueError) as error:
        raise AnsibleFilterError(f"deploy_checks: {error}") from None


def backup_checks(now, backup_metrics, drill_metrics, backup_max_age_hours, drill_max_age_days):
    """The last backup's and the last drill's results; see the filter's documentation."""
    try:
        return run_backup_checks(backup_metrics, drill_metrics, now, backup_max_age_hours, drill_max_age_days)
    except (CheckError, TypeError, ValueError) as error:
        raise AnsibleFilterError(f"backup_checks: {error}") from None


class FilterModule:
    def filters(self):
        return {"deploy_checks": deploy_checks, "backup_checks": backup_checks}
