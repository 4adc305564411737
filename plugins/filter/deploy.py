"""Filter running the deploy checklist's automated checks (logic in module_utils/deploy_checks.py)."""
from ansible.errors import AnsibleFilterError

from ansible_collections.advwell.platform.plugins.module_utils.deploy_checks import CheckError, deploy_checks as run


def deploy_checks(now, backup_metrics, drill_metrics, alerts, backup_max_age_hours, drill_max_age_days, budget):
    """The checklist's automated results; see the filter's documentation."""
    try:
        return run(backup_metrics, drill_metrics, alerts, now, backup_max_age_hours, drill_max_age_days, dict(budget))
    except (CheckError, TypeError, ValueError) as error:
        raise AnsibleFilterError(f"deploy_checks: {error}") from None


class FilterModule:
    def filters(self):
        return {"deploy_checks": deploy_checks}
