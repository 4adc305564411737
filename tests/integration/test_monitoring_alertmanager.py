"""The monitoring role's Alertmanager configuration, run by Debian's real Alertmanager: routes
by severity to a webhook (the lab's receiver), inhibits the database host's alerts while it is
unreachable and the high-memory warning while memory is critical. Alerts are posted to its API
as Prometheus posts them."""
import importlib.util
import json
import os
import subprocess
import threading
import time
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest

from tests.fixtures.ports import free_port, wait_for_port
from tests.fixtures.process import server_in_tempdir, stop_process

from .test_monitoring_rules import render_role

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RECEIVER = os.path.join(REPO, "lab", "images", "monitoring", "webhook_receiver.py")
SECRETS = ("s3cret-smtp-password", "123456:s3cret-telegram-token")


def load_receiver():
    spec = importlib.util.spec_from_file_location("webhook_receiver", RECEIVER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def webhook():
    receiver = load_receiver().Receiver(("127.0.0.1", 0))
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.shutdown()


class AlertmanagerProcess:
    def __init__(self, workdir, config):
        self.port = free_port()
        self.process = subprocess.Popen(
            [ALERTMANAGER, f"--config.file={config}", f"--storage.path={workdir}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address="],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(workdir, "log"), "w"))
        wait_for_port(self.port)

    def post_alerts(self, *alerts):
        now = datetime.now(timezone.utc)
        body = [{"labels": labels, "annotations": {"summary": labels["alertname"]},
                 "startsAt": now.isoformat(), "endsAt": (now + timedelta(minutes=5)).isoformat()}
                for labels in alerts]
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/api/v2/alerts",
                                         data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=5).read()

    def alerts(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v2/alerts", timeout=5) as reply:
            return json.load(reply)

    def stop(self):
        stop_process(self.process)


@pytest.fixture(scope="module")
def alertmanager_config(tmp_path_factory, webhook):
    directory = tmp_path_factory.mktemp("alertmanager")
    hook = f"http://127.0.0.1:{webhook.server_address[1]}"
    _results, run = render_role(directory, monitoring_group_wait="1s", monitoring_group_interval="1s",
                                monitoring_receivers=[{"name": "pager", "webhook": {"url": f"{hook}/critical"}},
                                                      {"name": "chat", "webhook": {"url": f"{hook}/warning"}}],
                                monitoring_routes={"critical": "pager", "warning": "chat"})
    assert run.returncode == 0, run.stdout + run.stderr
    return directory / "config" / "alertmanager" / "alertmanager.yml"


@pytest.fixture
def alertmanager(alertmanager_config, webhook):
    """A new Alertmanager for each test: no alert of another test is active in it."""
    webhook.forget()
    yield from server_in_tempdir("advwell-am-", lambda workdir: AlertmanagerProcess(workdir, alertmanager_config))


def delivered(webhook, timeout=20.0, settle=3.0):
    """(path, alertname) of every alert notified, once nothing new came for `settle` seconds."""
    deadline = time.monotonic() + timeout
    seen, quiet_since = None, time.monotonic()
    while time.monotonic() < deadline:
        now = sorted({(item["path"], alert["labels"]["alertname"])
                      for item in webhook.snapshot() for alert in item["body"]["alerts"]})
        if now != seen:
            seen, quiet_since = now, time.monotonic()
        elif now and time.monotonic() - quiet_since >= settle:
            return now
        time.sleep(0.2)
    return seen


DB = {"vps": "postgres"}


def test_routes_by_severity(alertmanager, webhook):
    alertmanager.post_alerts(
        {"alertname": "PostgresVPSDown", "severity": "critical", "job": "postgres-dedicated",
         "instance": "db-vps:9187", **DB},
        {"alertname": "PostgresVPSDiskHigh", "severity": "warning", "instance": "db-vps:9100", **DB})
    assert delivered(webhook) == [("/critical", "PostgresVPSDown"), ("/warning", "PostgresVPSDiskHigh")]


def test_an_unreachable_database_host_inhibits_its_other_alerts(alertmanager, webhook):
    alertmanager.post_alerts(
        {"alertname": "PostgresVPSUnreachable", "severity": "critical", "job": "postgres-dedicated", **DB},
        {"alertname": "PostgresVPSCPUHigh", "severity": "warning", "instance": "db-vps:9100", **DB},
        {"alertname": "BackupTooOld", "severity": "critical", "instance": "db-vps:9100", **DB},
        {"alertname": "RedisNoMaster", "severity": "critical"})
    assert delivered(webhook) == [("/critical", "PostgresVPSUnreachable"), ("/critical", "RedisNoMaster")]
    inhibited = {alert["labels"]["alertname"] for alert in alertmanager.alerts() if alert["status"]["inhibitedBy"]}
    assert {"PostgresVPSCPUHigh", "BackupTooOld"} <= inhibited
    assert "PostgresVPSUnreachable" not in inhibited


def test_critical_memory_inhibits_the_memory_warning(alertmanager, webhook):
    alertmanager.post_alerts(
        {"alertname": "PostgresVPSMemoryCritical", "severity": "critical", "instance": "db-vps:9101", **DB},
        {"alertname": "PostgresVPSMemoryHigh", "severity": "warning", "instance": "db-vps:9101", **DB})
    assert delivered(webhook) == [("/critical", "PostgresVPSMemoryCritical")]


def test_email_and_telegram_receivers_pass_amtool_and_stay_secret(tmp_path):
    _results, run = render_role(tmp_path, monitoring_receivers=[{
        "name": "oncall",
        "webhook": {"url": "https://hooks.example.com/alertmanager"},
        "email": {"to": "ops@example.com", "from": "alerts@example.com", "smarthost": "smtp.example.com:587",
                  "auth_username": "alerts@example.com", "auth_password": SECRETS[0]},
        "telegram": {"bot_token": SECRETS[1], "chat_id": -1001234567890}}],
        monitoring_routes={"critical": "oncall", "warning": "oncall"})
    assert run.returncode == 0, run.stdout + run.stderr
    config = tmp_path / "config" / "alertmanager" / "alertmanager.yml"
    checked = subprocess.run(["amtool", "check-config", str(config)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "email_configs" in config.read_text() and "telegram_configs" in config.read_text()
    assert oct(config.stat().st_mode & 0o777) == "0o600"
    for secret in SECRETS:
        assert secret not in run.stdout + run.stderr


def test_a_configuration_amtool_refuses_never_goes_live(tmp_path):
    _results, first = render_role(tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    live = tmp_path / "config" / "alertmanager" / "alertmanager.yml"
    before = live.read_text()
    # A group_wait Alertmanager cannot parse gets past the role's checks but not amtool's.
    results, second = render_role(tmp_path, monitoring_group_wait="soon")
    assert second.returncode != 0
    # The write's validation failed (its result is no_log: the configuration holds the receivers' secrets).
    assert results[-1]["status"] == "failed", results[-1]
    assert results[-1]["task"].endswith("Write Alertmanager's configuration"), results[-1]
    assert live.read_text() == before
