"""The deploy checklist's automated checks (phase 8), as pass/fail with a stable detail.

Each check returns ``{"passed": bool, "detail": str}``. The detail names the bound and the
answer ("last backup within 26 h: yes"), never an age or a time, so that a checklist
written from the same state is the same file byte for byte however much later it is
written.
"""
import re

from .connection_budget import BudgetError, connection_budget

_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?P<labels>\{[^}]*\})?\s+(?P<value>\S+)(?:\s+\S+)?$")


class CheckError(ValueError):
    pass


def textfile_samples(text):
    """The samples of a Prometheus text file (node_exporter's textfile collector) as a dict:
    ``name{labels}`` (labels as written) to its value. Comments and blank lines are left out."""
    samples = {}
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if not match:
            raise CheckError(f"not a Prometheus sample: {line!r}")
        try:
            samples[match.group("name") + (match.group("labels") or "")] = float(match.group("value"))
        except ValueError:
            raise CheckError(f"not a number in {line!r}") from None
    return samples


def _named(samples, name):
    """Values of every sample called ``name``, whatever its labels."""
    return [value for key, value in samples.items() if key == name or key.startswith(name + "{")]


def _result(passed, detail):
    return {"passed": bool(passed), "detail": detail}


def backup_fresh(metrics_text, now, max_age_hours):
    """The last backup succeeded and finished within ``max_age_hours`` of ``now`` (seconds).

    Besides ``passed`` and ``detail``: ``succeeded`` (the last run's result) and ``recent`` (a
    successful run ended within the bound), which the status board shows as two checks."""
    bound = f"last backup within {max_age_hours:g} h"
    if metrics_text is None:
        return _backup(False, False, f"{bound}: no - no backup has run (no metrics file)")
    samples = textfile_samples(metrics_text)
    last = _named(samples, "advwell_backup_last_success_timestamp_seconds")
    success = _named(samples, "advwell_backup_success")
    if not last or not last[0]:
        return _backup(False, False, f"{bound}: no - no backup has succeeded yet")
    recent = now - last[0] <= max_age_hours * 3600
    answer = f"{bound}: {'yes' if recent else 'no'}"
    failed = [key for key, value in samples.items() if key.startswith("advwell_backup_success") and value != 1]
    if failed:
        stage = re.search(r'stage="([^"]*)"', failed[0])
        return _backup(False, recent, f"{answer}; the last run failed{' at stage ' + stage.group(1) if stage else ''}")
    if not success:
        return _backup(False, recent, f"{answer}; no result of the last run")
    return _backup(True, recent, f"{answer}; the last run succeeded")


def _backup(succeeded, recent, detail):
    return {**_result(succeeded and recent, detail), "succeeded": succeeded, "recent": recent}


def drill_passed(metrics_text, now, max_age_days):
    """The last restore drill passed, within ``max_age_days`` of ``now`` (seconds)."""
    bound = f"last restore drill passed within {max_age_days:g} days"
    if metrics_text is None:
        return _result(False, f"{bound}: no - no drill has run (no metrics file)")
    samples = textfile_samples(metrics_text)
    success = _named(samples, "advwell_restore_drill_success")
    last = _named(samples, "advwell_restore_drill_last_success_timestamp_seconds")
    tables = _named(samples, "advwell_restore_drill_tables")
    if not success or success[0] != 1:
        return _result(False, f"{bound}: no - the last drill failed")
    fresh = bool(last and last[0]) and now - last[0] <= max_age_days * 86400
    compared = f"; {int(tables[0])} tables equal to the manifest" if tables and fresh else ""
    return _result(fresh, f"{bound}: {'yes' if fresh else 'no'}{compared}")


def no_alert_firing(alerts):
    """No alert is active in Alertmanager (silenced and inhibited ones left out).

    ``alerts`` is the list Alertmanager's ``GET /api/v2/alerts`` returns."""
    if not isinstance(alerts, list):
        raise CheckError(f"expected Alertmanager's list of alerts, got {type(alerts).__name__}")
    firing = sorted({alert.get("labels", {}).get("alertname", "?") for alert in alerts
                     if alert.get("status", {}).get("state", "active") == "active"})
    if firing:
        return _result(False, f"alerts firing: {', '.join(firing)}")
    return _result(True, "alerts firing: none")


def rollout_budget(replicas, pool_size, max_connections, extra_tasks, exporter=0, backup_jobs=0, reserved=0):
    """The connection budget still fits while a rolling update runs ``extra_tasks`` more
    backend tasks (start-first: the new task starts before the old one stops)."""
    try:
        steady = connection_budget(replicas, pool_size, max_connections, exporter, backup_jobs, reserved)
        rollout = connection_budget(int(replicas) + int(extra_tasks), pool_size, max_connections,
                                    exporter, backup_jobs, reserved)
    except (BudgetError, TypeError, ValueError) as error:
        raise CheckError(f"connection budget: {error}") from None
    return _result(rollout["fits"], f"during the rollout ({replicas} + {extra_tasks} tasks): {rollout['arithmetic']}; "
                                    f"at most {steady['max_replicas']} replicas fit")


def backup_checks(backup_metrics, drill_metrics, now, backup_max_age_hours, drill_max_age_days):
    """The last backup (backup_fresh) and the last restore drill (drill_passed), by name."""
    return {
        "backup": backup_fresh(backup_metrics, float(now), float(backup_max_age_hours)),
        "drill": drill_passed(drill_metrics, float(now), float(drill_max_age_days)),
    }


def deploy_checks(backup_metrics, drill_metrics, alerts, now, backup_max_age_hours, drill_max_age_days,
                  budget):
    """Every automated check of the deploy checklist, by name. ``budget`` holds
    rollout_budget's arguments; ``alerts`` may be None when Alertmanager did not answer."""
    return {
        **backup_checks(backup_metrics, drill_metrics, now, backup_max_age_hours, drill_max_age_days),
        "alerts": (_result(False, "alerts firing: unknown - Alertmanager did not answer") if alerts is None
                   else no_alert_firing(alerts)),
        "budget": rollout_budget(**budget),
    }
