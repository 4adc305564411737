"""The deploy checklist's automated checks: pass or fail, and a detail that does not age."""
import pytest

from ansible_collections.advwell.platform.plugins.module_utils.deploy_checks import (
    CheckError, backup_checks, backup_fresh, deploy_checks, drill_passed, no_alert_firing, rollout_budget, textfile_samples)

NOW = 1_800_000_000.0
HOUR = 3600


def backup_prom(last, success=1, stage="complete"):
    return (f'# HELP advwell_backup_success 1 when ...\n# TYPE advwell_backup_success gauge\n'
            f'advwell_backup_success{{stage="{stage}"}} {success}\n'
            f'advwell_backup_last_success_timestamp_seconds {last}\nadvwell_backup_size_bytes 1.2e+06\n')


def drill_prom(success, last, tables=6):
    return (f"advwell_restore_drill_success {success}\nadvwell_restore_drill_last_success_timestamp_seconds {last}\n"
            f"advwell_restore_drill_duration_seconds 12\nadvwell_restore_drill_tables {tables}\n")


def test_samples_of_a_text_file():
    assert textfile_samples(backup_prom(NOW)) == {
        'advwell_backup_success{stage="complete"}': 1.0,
        "advwell_backup_last_success_timestamp_seconds": NOW, "advwell_backup_size_bytes": 1.2e6}
    with pytest.raises(CheckError, match="not a Prometheus sample"):
        textfile_samples("{stage=\"x\"} 1\n")


def test_a_fresh_backup_passes_and_the_detail_does_not_age():
    one = backup_fresh(backup_prom(NOW - HOUR), NOW, 26)
    other = backup_fresh(backup_prom(NOW - 20 * HOUR), NOW, 26)
    assert one == other == {"passed": True, "detail": "last backup within 26 h: yes; the last run succeeded",
                            "succeeded": True, "recent": True}


# succeeded and recent: the status board's two checks ("ÚLTIMO BACKUP FALHOU", "... COM MAIS DE 26 H").
@pytest.mark.parametrize("text,detail,succeeded,recent", [
    (backup_prom(NOW - 27 * HOUR), "last backup within 26 h: no; the last run succeeded", True, False),
    (backup_prom(NOW - HOUR, 0, "upload"), "last backup within 26 h: yes; the last run failed at stage upload",
     False, True),
    (backup_prom(0, 0, "space"), "last backup within 26 h: no - no backup has succeeded yet", False, False),
    (None, "last backup within 26 h: no - no backup has run (no metrics file)", False, False),
], ids=["too old", "last run failed", "never succeeded", "never ran"])
def test_a_stale_failed_or_missing_backup_fails(text, detail, succeeded, recent):
    assert backup_fresh(text, NOW, 26) == {"passed": False, "detail": detail, "succeeded": succeeded, "recent": recent}


def test_backup_checks_are_the_deploy_checks_backup_and_drill():
    budget = {"replicas": 3, "pool_size": 25, "max_connections": 500, "extra_tasks": 1}
    checks = deploy_checks(backup_prom(NOW - HOUR, 0, "upload"), drill_prom(1, NOW - 86400), [], NOW, 26, 8, budget)
    assert backup_checks(backup_prom(NOW - HOUR, 0, "upload"), drill_prom(1, NOW - 86400), NOW, 26, 8) == {
        "backup": checks["backup"], "drill": checks["drill"]}


def test_the_drill():
    assert drill_passed(drill_prom(1, NOW - 86400), NOW, 8) == {
        "passed": True, "detail": "last restore drill passed within 8 days: yes; 6 tables equal to the manifest"}
    assert drill_passed(drill_prom(1, NOW - 9 * 86400), NOW, 8) == {
        "passed": False, "detail": "last restore drill passed within 8 days: no"}
    assert drill_passed(drill_prom(0, NOW - 86400), NOW, 8)["detail"].endswith("no - the last drill failed")
    assert not drill_passed(None, NOW, 8)["passed"]


def test_alerts():
    assert no_alert_firing([]) == {"passed": True, "detail": "alerts firing: none"}
    alerts = [{"labels": {"alertname": "PostgresDown"}, "status": {"state": "active"}},
              {"labels": {"alertname": "BackupFailed"}, "status": {"state": "active"}},
              {"labels": {"alertname": "BackupFailed"}, "status": {"state": "active"}},
              {"labels": {"alertname": "Muted"}, "status": {"state": "suppressed"}}]
    assert no_alert_firing(alerts) == {"passed": False, "detail": "alerts firing: BackupFailed, PostgresDown"}
    with pytest.raises(CheckError):
        no_alert_firing({"alerts": []})


def test_the_rollout_budget_counts_the_extra_task():
    result = rollout_budget(3, 25, 500, 1, exporter=1, backup_jobs=5, reserved=3)
    assert result == {"passed": True, "detail": (
        "during the rollout (3 + 1 tasks): backend 4 x 25 = 100, exporter 1, backup jobs 5, reserved 3: "
        "109 of 500, 391 free; at most 19 replicas fit")}
    # 19 replicas fit when steady, not while a 20th task starts beside them.
    assert not rollout_budget(19, 25, 500, 1, exporter=1, backup_jobs=5, reserved=3)["passed"]
    with pytest.raises(CheckError, match="pool_size must be at least 1"):
        rollout_budget(3, 0, 500, 1)


def test_every_check_by_name():
    checks = deploy_checks(backup_prom(NOW - HOUR), drill_prom(1, NOW - 86400), None, NOW, 26, 8,
                           {"replicas": 3, "pool_size": 3, "max_connections": 500, "extra_tasks": 1})
    assert sorted(checks) == ["alerts", "backup", "budget", "drill"]
    assert checks["alerts"] == {"passed": False, "detail": "alerts firing: unknown - Alertmanager did not answer"}
    assert checks["backup"]["passed"] and checks["drill"]["passed"] and checks["budget"]["passed"]
