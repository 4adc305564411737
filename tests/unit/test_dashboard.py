"""The seed's "PostgreSQL VPS Dedicada" Grafana dashboard, checked without Grafana (which cannot
run here): its structure. Its queries are run against the platform's real Prometheus in
molecule/platform/verify/phase6.yml."""
import itertools
import json
import os

import pytest
import yaml

ROLE = os.path.join(os.path.dirname(__file__), "..", "..", "roles", "monitoring", "files", "grafana")


@pytest.fixture(scope="module")
def dashboard():
    with open(os.path.join(ROLE, "postgresql-vps-dashboard.json")) as handle:
        return json.load(handle)


def test_uid_title_and_25_panels(dashboard):
    assert dashboard["uid"] == "postgresql-vps-dashboard"
    assert dashboard["title"] == "PostgreSQL VPS Dedicada"
    assert len(dashboard["panels"]) == 25


def test_panel_ids_are_unique(dashboard):
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(set(ids)) == len(ids)


def test_panels_fit_the_grid_and_do_not_overlap(dashboard):
    def cells(panel):
        pos = panel["gridPos"]
        return {(x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])}

    for panel in dashboard["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["w"] > 0 and pos["h"] > 0 and pos["x"] + pos["w"] <= 24, panel["title"]
    for first, second in itertools.combinations(dashboard["panels"], 2):
        assert not cells(first) & cells(second), f"{first['title']} overlaps {second['title']}"


def test_every_query_uses_the_datasource_variable(dashboard):
    variables = {item["name"]: item for item in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
            assert target["expr"].strip(), panel["title"]


def test_it_covers_the_seed_and_the_issue(dashboard):
    text = json.dumps(dashboard)
    for metric in ("node_cpu_seconds_total", "node_memory_MemAvailable_bytes", "node_filesystem_avail_bytes",
                   "node_network_receive_bytes_total", "pg_stat_activity_count", "pg_stat_database_blks_hit",
                   "pg_stat_database_xact_commit", "pg_locks_count", "pg_replication_lag",
                   "advwell_backup_last_success_timestamp_seconds", "advwell_restore_drill_success"):
        assert metric in text, metric


def test_provisioning_points_at_the_dashboard_and_prometheus():
    with open(os.path.join(ROLE, "dashboards.yml")) as handle:
        providers = yaml.safe_load(handle)["providers"]
    with open(os.path.join(ROLE, "datasource.yml")) as handle:
        datasources = yaml.safe_load(handle)["datasources"]
    assert providers[0]["type"] == "file" and providers[0]["options"]["path"]
    assert [source["type"] for source in datasources] == ["prometheus"]
    assert datasources[0]["url"] == "http://prometheus:9090"
