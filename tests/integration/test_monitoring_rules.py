"""The alert rules of the monitoring role, rendered from its defaults and run by Prometheus's
own rule engine (`promtool test rules`). For every alert: it does not fire before its `for`,
it fires after it with its labels and annotations, it does not fire below its threshold;
and PostgresVPSDown and PostgresVPSUnreachable each fire only in their own situation."""
import json
import shutil
import subprocess

import pytest
import yaml

from .ansible_run import run_role

NODE = {"job": "node-postgres-vps", "instance": "db-vps:9100"}
PG = {"job": "postgres-dedicated", "instance": "db-vps:9187"}
DB = {"severity": None, "vps": "postgres"}


def render_role(directory, entry="render", **variables):
    """Runs the role's entry on this machine with promtool and amtool as they are installed;
    returns (its task results, the run)."""
    settings = {"monitoring_config_dir": str(directory / "config"), "monitoring_reload": False,
                "monitoring_promtool": "promtool", "monitoring_amtool": "amtool",
                "advwell_db_address": "10.0.0.2", "ansible_python_interpreter": shutil.which("python3"),
                **variables}
    results, _stats, run = run_role(directory, "monitoring", entry, settings)
    return results, run


@pytest.fixture(scope="module")
def rules_file(tmp_path_factory):
    directory = tmp_path_factory.mktemp("monitoring")
    _results, run = render_role(directory)
    assert run.returncode == 0, run.stdout + run.stderr
    return directory / "config" / "prometheus" / "rules" / "advwell.yml"


def series(name, labels, values):
    inner = ", ".join(f'{key}="{value}"' for key, value in labels.items())
    return {"series": f"{name}{{{inner}}}", "values": values}


def humanize_duration(seconds):
    """Prometheus's humanizeDuration for a whole number of seconds of 60 or more."""
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h {minutes}m {secs}s"
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    return f"{minutes}m {secs}s"


class Alert:
    """One alert's situations. `firing` and `below` are input series; the condition holds
    from minute `onset` of `firing`; `expected(minute)` gives the labels and annotations of
    the alert at that minute."""

    def __init__(self, name, wait, firing, below, labels, annotations, onset=0):
        self.name, self.wait, self.firing, self.below = name, wait, firing, below
        self.labels, self.annotations, self.onset = labels, annotations, onset

    @property
    def fires_at(self):
        return self.onset + self.wait


def db_labels(severity, **extra):
    return dict(DB, severity=severity, **extra)


def memory(available):
    return [series("node_memory_MemTotal_bytes", NODE, "1000x30"),
            series("node_memory_MemAvailable_bytes", NODE, f"{available}x30")]


def disk(avail):
    root = dict(NODE, mountpoint="/", fstype="ext4", device="/dev/vda1")
    shm = dict(NODE, mountpoint="/dev/shm", fstype="tmpfs", device="tmpfs")
    return [series("node_filesystem_size_bytes", root, "1000x30"),
            series("node_filesystem_avail_bytes", root, f"{avail}x30"),
            # A full tmpfs is no disk.
            series("node_filesystem_size_bytes", shm, "1000x30"),
            series("node_filesystem_avail_bytes", shm, "10x30")]


def cpu(idle_seconds_per_minute):
    return [series("node_cpu_seconds_total", dict(NODE, cpu=str(n), mode="idle"), f"0+{idle_seconds_per_minute}x30")
            for n in (0, 1)]


def connections(active, idle, max_connections=500):
    return [series("pg_stat_activity_count", dict(PG, datname="advtom", state="active"), f"{active}x30"),
            series("pg_stat_activity_count", dict(PG, datname="advtom", state="idle"), f"{idle}x30"),
            series("pg_settings_max_connections", PG, f"{max_connections}x30")]


def metric(name, labels, value):
    return [series(name, dict(NODE, **labels), f"{value}x30")]


BACKEND = {"job": "backend"}
TASKS = [f"10.0.1.{n}:3000" for n in (5, 6, 7)]
# Each request holds a pooled connection for the default 0.085 s: 3 tasks x 25 / 0.085.
CAPACITY_RPS = 3 * 25 / 0.085


def backend_load(rps_per_task, pool=25, minutes=40):
    """The backend tasks' pools and request counters; each counter grows by its rate from 0
    (the rates are whole numbers, so rate() gives them exactly). A rate of None: no counter."""
    pools = [series("advwell_db_pool_max_connections", dict(BACKEND, instance=task), f"{pool}x{minutes}")
             for task in TASKS]
    counters = [series("advwell_http_requests_total", dict(BACKEND, instance=task, code="200"),
                       f"0+{rate * 60}x{minutes}")
                for task, rate in zip(TASKS, rps_per_task) if rate is not None]
    return pools + counters


def headroom_annotations(request_rps):
    return {"summary": "Backend capacity headroom below 1.5x",
            "description": f"The backend serves {request_rps:.0f} req/s (5 min rate) against a pool ceiling of "
                           f"{CAPACITY_RPS:.0f} req/s: headroom {CAPACITY_RPS / request_rps:.2f}x. Run phase 7 "
                           "(capacity) to measure the ceiling again and scale the backend (app_vps_backend_replicas) "
                           "within the connection budget."}


HOUR, DAY = 3600, 86400
ALERTS = [
    Alert("PostgresVPSDown", 1, [series("pg_up", PG, "0x30")], [series("pg_up", PG, "1x30")],
          lambda m: dict(PG, **db_labels("critical")),
          lambda m: {"summary": "PostgreSQL on the database host is down",
                     "description": "The postgres exporter on db-vps:9187 answers, but cannot log in to PostgreSQL."}),
    # The exporter's scrape fails: up is 0 and pg_up has no series.
    Alert("PostgresVPSUnreachable", 1, [series("up", PG, "0x30")], [series("pg_up", PG, "1x30")],
          lambda m: {"job": "postgres-dedicated", **db_labels("critical")},
          lambda m: {"summary": "The database host does not answer",
                     "description": "No scrape of job postgres-dedicated has returned pg_up; "
                                    "the host or its exporter is unreachable."}),
    Alert("PostgresVPSMemoryHigh", 5, memory(150), memory(300),
          lambda m: dict(NODE, **db_labels("warning")),
          lambda m: {"summary": "Memory on the database host above 80%",
                     "description": "db-vps:9100 uses 85% of its memory."}),
    Alert("PostgresVPSMemoryCritical", 5, memory(50), memory(150),
          lambda m: dict(NODE, **db_labels("critical")),
          lambda m: {"summary": "Memory on the database host above 90%",
                     "description": "db-vps:9100 uses 95% of its memory."}),
    Alert("PostgresVPSDiskHigh", 5, disk(150), disk(300),
          lambda m: dict(NODE, mountpoint="/", fstype="ext4", device="/dev/vda1", **db_labels("warning")),
          lambda m: {"summary": "A disk of the database host is above 80%",
                     "description": "/ on db-vps:9100 is 85% full."}),
    # rate() needs two samples: the condition holds from minute 1. 6 s idle a minute is 90% busy.
    Alert("PostgresVPSCPUHigh", 10, cpu(6), cpu(30),
          lambda m: dict(NODE, **db_labels("warning")),
          lambda m: {"summary": "CPU of the database host above 80%",
                     "description": "db-vps:9100 is 90% busy."}, onset=1),
    Alert("PostgresVPSConnectionsHigh", 5, connections(300, 150), connections(200, 150),
          lambda m: dict(PG, **db_labels("warning")),
          lambda m: {"summary": "Connections to PostgreSQL above 80% of max_connections",
                     "description": "450 connections on db-vps:9187."}),
    # A success timestamp 26 h before the test's epoch: older than 26 h from minute 1.
    Alert("BackupTooOld", 5, metric("advwell_backup_last_success_timestamp_seconds", {}, -26 * HOUR),
          metric("advwell_backup_last_success_timestamp_seconds", {}, -25 * HOUR),
          lambda m: dict(NODE, **db_labels("critical")),
          lambda m: {"summary": "No successful backup for 26 h",
                     "description": "The last successful backup on db-vps:9100 ended "
                                    f"{humanize_duration(26 * HOUR + m * 60)} ago."}, onset=1),
    Alert("BackupFailed", 5, metric("advwell_backup_success", {"stage": "upload"}, 0),
          metric("advwell_backup_success", {"stage": "complete"}, 1),
          lambda m: dict(NODE, stage="upload", **db_labels("critical")),
          lambda m: {"summary": "The last backup failed at stage upload",
                     "description": "The backup on db-vps:9100 failed at stage upload; "
                                    "see journalctl -u advwell-backup."}),
    Alert("RestoreDrillFailed", 5, metric("advwell_restore_drill_success", {}, 0),
          metric("advwell_restore_drill_success", {}, 1),
          lambda m: dict(NODE, **db_labels("critical")),
          lambda m: {"summary": "The last restore drill failed",
                     "description": "The restore drill on db-vps:9100 did not restore the latest S3 backup "
                                    "equal to its manifest."}),
    Alert("RestoreDrillTooOld", 5, metric("advwell_restore_drill_last_success_timestamp_seconds", {}, -8 * DAY),
          metric("advwell_restore_drill_last_success_timestamp_seconds", {}, -7 * DAY),
          lambda m: dict(NODE, **db_labels("warning")),
          lambda m: {"summary": "No restore drill has passed for 8 days",
                     "description": "The last passing drill on db-vps:9100 ended "
                                    f"{humanize_duration(8 * DAY + m * 60)} ago."}, onset=1),
    Alert("TargetDown", 2, [series("up", {"job": "redis", "instance": "redis://redis-master:6379"}, "0x30")],
          [series("up", {"job": "redis", "instance": "redis://redis-master:6379"}, "1x30")],
          lambda m: {"job": "redis", "instance": "redis://redis-master:6379", "severity": "warning"},
          lambda m: {"summary": "Scrape target redis redis://redis-master:6379 is down",
                     "description": "Prometheus cannot scrape redis://redis-master:6379 (job redis)."}),
    Alert("TargetDown", 2, [series("up", PG, "0x30")], [series("up", PG, "1x30")],
          lambda m: dict(PG, **db_labels("warning")),
          lambda m: {"summary": "Scrape target postgres-dedicated db-vps:9187 is down",
                     "description": "Prometheus cannot scrape db-vps:9187 (job postgres-dedicated)."}),
    Alert("RedisNoMaster", 1,
          [series("redis_instance_info", {"job": "redis", "instance": "redis://redis-replica:6379", "role": "slave"}, "1x30")],
          [series("redis_instance_info", {"job": "redis", "instance": "redis://redis-master:6379", "role": "master"}, "1x30")],
          lambda m: {"severity": "critical"},
          lambda m: {"summary": "No Redis instance is master",
                     "description": "None of the scraped Redis instances reports role master."}),
    # Three tasks were desired; one answers no more.
    Alert("BackendTasksMissing", 3,
          [series("up", {"job": "backend", "instance": f"10.0.1.{n}:3000"}, "1x30" if n < 7 else "0x30")
           for n in (5, 6, 7)],
          [series("up", {"job": "backend", "instance": f"10.0.1.{n}:3000"}, "1x30") for n in (5, 6, 7)],
          lambda m: {"severity": "critical"},
          lambda m: {"summary": "Fewer backend tasks than the 3 desired",
                     "description": "2 of 3 backend tasks answer on /metrics."}),
    # 882 req/s of capacity against 700 served: headroom 1.26. The 5 min rate of counters
    # that start at minute 0 reaches 700 at minute 5 (560 at minute 4: headroom 1.58).
    Alert("CapacityHeadroomLow", 15, backend_load([240, 240, 220]), backend_load([140, 140, 120]),
          lambda m: {"severity": "warning"},
          lambda m: headroom_annotations(700), onset=5),
]


# TargetDown twice: an app target, and a database host's target (labelled vps="postgres").
IDS = [alert.name + ("-db" if alert.name == "TargetDown" and alert.labels(0).get("vps") else "") for alert in ALERTS]


def promtool_test(directory, rules_file, input_series, checks):
    """Runs one promtool unit test; checks are (minute, alert name, [(labels, annotations)])."""
    test = {
        "rule_files": [str(rules_file)],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": input_series,
            "alert_rule_test": [
                {"eval_time": f"{minute}m", "alertname": name,
                 "exp_alerts": [{"exp_labels": labels, "exp_annotations": annotations}
                                for labels, annotations in expected]}
                for minute, name, expected in checks],
        }],
    }
    path = directory / "test.yml"
    path.write_text(json.dumps(test))
    return subprocess.run(["promtool", "test", "rules", str(path)], capture_output=True, text=True, check=False)


def promtool_expr_test(directory, rules_file, input_series, checks):
    """Runs one promtool unit test of expressions; checks are (minute, expression, [(labels, value)]).
    YAML, not JSON: +Inf is a value YAML has."""
    test = {
        "rule_files": [str(rules_file)],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": input_series,
            "promql_expr_test": [
                {"expr": expr, "eval_time": f"{minute}m",
                 "exp_samples": [{"labels": labels, "value": value} for labels, value in expected]}
                for minute, expr, expected in checks],
        }],
    }
    path = directory / "test.yml"
    path.write_text(yaml.safe_dump(test))
    return subprocess.run(["promtool", "test", "rules", str(path)], capture_output=True, text=True, check=False)


def assert_passes(run):
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("alert", ALERTS, ids=IDS)
def test_fires_after_its_wait_with_its_labels(tmp_path, rules_file, alert):
    assert_passes(promtool_test(tmp_path, rules_file, alert.firing, [
        (alert.fires_at, alert.name, [(alert.labels(alert.fires_at), alert.annotations(alert.fires_at))]),
        (alert.fires_at + 5, alert.name, [(alert.labels(alert.fires_at + 5), alert.annotations(alert.fires_at + 5))]),
    ]))


@pytest.mark.parametrize("alert", ALERTS, ids=IDS)
def test_does_not_fire_before_its_wait(tmp_path, rules_file, alert):
    assert_passes(promtool_test(tmp_path, rules_file, alert.firing, [
        (minute, alert.name, []) for minute in range(0, alert.fires_at)]))


@pytest.mark.parametrize("alert", ALERTS, ids=IDS)
def test_does_not_fire_below_its_threshold(tmp_path, rules_file, alert):
    assert_passes(promtool_test(tmp_path, rules_file, alert.below, [
        (minute, alert.name, []) for minute in (alert.fires_at, alert.fires_at + 10)]))


def test_the_expectations_can_fail(tmp_path, rules_file):
    """A wrong expectation is reported: the tests above cannot pass by accident."""
    alert = ALERTS[0]
    run = promtool_test(tmp_path, rules_file, alert.firing, [(alert.fires_at, alert.name, [])])
    assert run.returncode != 0
    assert "PostgresVPSDown" in run.stdout + run.stderr


def test_down_and_unreachable_each_fire_in_their_own_situation(tmp_path, rules_file):
    down, unreachable = ALERTS[0], ALERTS[1]
    # PostgreSQL refuses the exporter: Down, not Unreachable.
    assert_passes(promtool_test(tmp_path, rules_file, down.firing, [
        (5, "PostgresVPSDown", [(down.labels(5), down.annotations(5))]),
        (5, "PostgresVPSUnreachable", [])]))
    # The exporter (or the host) is gone: Unreachable, not Down.
    assert_passes(promtool_test(tmp_path, rules_file, unreachable.firing, [
        (5, "PostgresVPSUnreachable", [(unreachable.labels(5), unreachable.annotations(5))]),
        (5, "PostgresVPSDown", [])]))


def test_the_connections_alert_follows_max_connections(tmp_path, rules_file):
    # 450 connections: over 80% of 500, under 80% of 600.
    assert_passes(promtool_test(tmp_path, rules_file, connections(300, 150, max_connections=600), [
        (10, "PostgresVPSConnectionsHigh", [])]))


def test_critical_memory_also_is_high_memory(tmp_path, rules_file):
    """Both fire; Alertmanager's inhibition keeps only the critical one (see test_monitoring_config)."""
    high = ALERTS[2]
    assert_passes(promtool_test(tmp_path, rules_file, memory(50), [
        (5, "PostgresVPSMemoryHigh", [(high.labels(5), {
            "summary": "Memory on the database host above 80%",
            "description": "db-vps:9100 uses 95% of its memory."})])]))


def test_shorter_waits_from_the_inventory(tmp_path):
    _results, run = render_role(tmp_path, monitoring_alert_for={"postgres_down": "30s"})
    assert run.returncode == 0, run.stdout + run.stderr
    rules = (tmp_path / "config" / "prometheus" / "rules" / "advwell.yml").read_text()
    down = rules.split("alert: PostgresVPSDown", 1)[1].split("- alert:", 1)[0]
    assert "for: 30s" in down


def test_the_capacity_rules_record_the_ceiling_the_traffic_and_the_headroom(tmp_path, rules_file):
    assert_passes(promtool_expr_test(tmp_path, rules_file, backend_load([240, 240, 220]), [
        (10, "advwell:backend_capacity_rps", [("advwell:backend_capacity_rps", CAPACITY_RPS)]),
        (10, "advwell:backend_request_rps", [("advwell:backend_request_rps", 700.0)]),
        (10, "advwell:capacity_headroom_ratio", [("advwell:capacity_headroom_ratio", CAPACITY_RPS / 700)]),
    ]))


def test_the_capacity_ceiling_follows_the_pools(tmp_path, rules_file):
    """A pool of 10 per task: 3 x 10 / 0.085 req/s."""
    assert_passes(promtool_expr_test(tmp_path, rules_file, backend_load([240, 240, 220], pool=10), [
        (10, "advwell:backend_capacity_rps", [("advwell:backend_capacity_rps", 3 * 10 / 0.085)])]))


def test_no_traffic_is_infinite_headroom_and_never_alerts(tmp_path, rules_file):
    # Counters that do not move: a rate of 0, a headroom of +Inf.
    idle = backend_load([0, 0, 0])
    assert_passes(promtool_expr_test(tmp_path, rules_file, idle, [
        (30, "advwell:capacity_headroom_ratio", [("advwell:capacity_headroom_ratio", float("inf"))])]))
    assert_passes(promtool_test(tmp_path, rules_file, idle, [
        (minute, "CapacityHeadroomLow", []) for minute in (0, 5, 16, 20, 30, 39)]))
    # No counter at all (a backend that has answered nothing since it started): no sample.
    silent = backend_load([None, None, None])
    assert_passes(promtool_expr_test(tmp_path, rules_file, silent, [
        (30, "advwell:capacity_headroom_ratio", [])]))
    assert_passes(promtool_test(tmp_path, rules_file, silent, [
        (minute, "CapacityHeadroomLow", []) for minute in (0, 16, 20, 30, 39)]))


def test_the_headroom_alert_follows_the_variables(tmp_path):
    """A longer hold per request (phase 7's measurement) lowers the ceiling; the minimum is the inventory's."""
    _results, run = render_role(tmp_path, monitoring_capacity_connection_seconds=0.17, monitoring_capacity_headroom_min=2,
                                monitoring_alert_for={"capacity_headroom": "5m"})
    assert run.returncode == 0, run.stdout + run.stderr
    rules_file = tmp_path / "config" / "prometheus" / "rules" / "advwell.yml"
    # 3 x 25 / 0.17 = 441 req/s against 400: headroom 1.10, below 2. The rate ramps up by 80 req/s
    # a minute: from minute 3 (240 req/s, headroom 1.84) it is below 2, and it fires 5 min later.
    load = backend_load([140, 140, 120])
    assert_passes(promtool_expr_test(tmp_path, rules_file, load, [
        (10, "advwell:backend_capacity_rps", [("advwell:backend_capacity_rps", 3 * 25 / 0.17)])]))
    assert_passes(promtool_test(tmp_path, rules_file, load, [
        (2, "CapacityHeadroomLow", []),
        (7, "CapacityHeadroomLow", []),
        (8, "CapacityHeadroomLow", [({"severity": "warning"}, {
            "summary": "Backend capacity headroom below 2.0x",
            "description": f"The backend serves 400 req/s (5 min rate) against a pool ceiling of {3 * 25 / 0.17:.0f} "
                           f"req/s: headroom {3 * 25 / 0.17 / 400:.2f}x. Run phase 7 (capacity) to measure the "
                           "ceiling again and scale the backend (app_vps_backend_replicas) within the connection budget."})]),
    ]))
