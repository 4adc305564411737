"""advwell.platform.fail2ban_jail against a real fail2ban-server (tests/fixtures/fail2ban.py):
validated drop-ins, reloads, bans reported, nothing live when fail2ban rejects the jail."""
import json
import os
import time

import pytest
import yaml

from tests.fixtures.fail2ban import BASE_JAIL
from tests.integration.ansible_run import ansible, run_module

MODULE = "advwell.platform.fail2ban_jail"
ATTACKER = "192.0.2.7"


@pytest.fixture
def f2b(fail2ban_server, tmp_path):
    """Runs the module against the fixture's server: f2b(check_mode=..., **args) -> result."""
    def run(check_mode=False, diff=True, **args):
        args = dict(config_dir=fail2ban_server.config_dir, executable=fail2ban_server.client_path, **args)
        return run_module(tmp_path, MODULE, args, check_mode=check_mode, diff=diff)[0]
    run.server = fail2ban_server
    return run


def web_jail(server, **extra):
    return dict(name="web", filter="sshd", backend="polling", logpath=[server.log_path], maxretry=3,
                findtime="10m", bantime="1h", bantime_increment=True, bantime_factor=2,
                bantime_maxtime="1w", ignoreip=["127.0.0.1/8", "::1"], action="dummy", **extra)


def read(path):
    with open(path) as handle:
        return handle.read()


def test_check_mode_apply_reapply_and_bans(f2b):
    server = f2b.server
    path = server.jail_file("web")

    checked = f2b(check_mode=True, **web_jail(server))
    assert checked["changed"] is True and not checked.get("failed"), checked
    assert checked["diff"]["before"] == ""
    assert "[web]\nenabled = true\n" in checked["diff"]["after"]
    assert "bantime.increment = true\n" in checked["diff"]["after"]
    assert not os.path.exists(path)
    assert checked["daemon_running"] is True and checked["running"] is False
    assert checked["reloaded"] is None and "web" not in server.jails()

    applied = f2b(**web_jail(server))
    assert applied["changed"] is True and not applied.get("failed"), applied
    assert read(path) == checked["diff"]["after"] and applied["file"] == path
    assert "state" not in applied and "mode" not in applied
    assert read(path).startswith("# Managed by Ansible")
    assert applied["reloaded"] == "reload" and applied["running"] is True
    assert server.jails() == [BASE_JAIL, "web"]
    assert applied["status"]["file_list"] == [server.log_path]
    assert not [name for name in os.listdir(os.path.dirname(path)) if name.endswith(".tmp")]

    again = f2b(**web_jail(server))
    assert again["changed"] is False and again["reloaded"] is None, again
    assert again["diff"]["before"] == again["diff"]["after"]

    server.fail_logins(ATTACKER, 4)
    deadline = time.monotonic() + 30
    while True:
        status = f2b(diff=False, **web_jail(server))
        if status["status"]["banned_ips"] or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert status["changed"] is False
    assert status["status"]["banned_ips"] == [ATTACKER], server.daemon_log()
    assert status["status"]["currently_banned"] == 1 and status["status"]["total_banned"] == 1
    assert status["status"]["total_failed"] >= 3

    # A changed jail is reloaded by name, which keeps its bans; check mode still reports them.
    changed = f2b(check_mode=True, **web_jail(server, port="ssh"))
    assert changed["changed"] is True and changed["status"]["banned_ips"] == [ATTACKER]
    reloaded = f2b(**web_jail(server, port="ssh"))
    assert reloaded["reloaded"] == "reload web" and "port = ssh\n" in read(path)
    assert reloaded["status"]["banned_ips"] == [ATTACKER]


def test_rejected_jail_changes_nothing(f2b):
    server = f2b.server
    path = server.jail_file("web")
    assert f2b(**web_jail(server))["changed"] is True
    before = read(path)

    for check_mode in (True, False):
        rejected = f2b(check_mode=check_mode, **dict(web_jail(server), filter="no-such-filter"))
        assert rejected.get("failed") is True and rejected["changed"] is False, rejected
        assert "fail2ban rejects the configuration with jail.d/web.local" in rejected["msg"]
        assert "filter.d/no-such-filter" in rejected["msg"] and server.config_dir in rejected["msg"]
        assert "test configuration failed" not in rejected["msg"]
    assert read(path) == before
    assert server.is_running() and server.jails() == [BASE_JAIL, "web"]
    assert not [name for name in os.listdir(os.path.dirname(path)) if name.endswith(".tmp")]


def test_bad_input_names_the_parameter(f2b):
    server = f2b.server
    for bad in ({"name": "../x"}, {"bantime": "soon"}, {"findtime": "-1"}, {"maxretry": 0},
                {"bantime_factor": 0}):
        parameter = next(iter(bad))
        result = f2b(**dict(web_jail(server), **bad))
        assert result.get("failed") is True and result["msg"].startswith(f"{parameter}: "), result
    assert sorted(os.listdir(os.path.join(server.config_dir, "jail.d"))) == [BASE_JAIL + ".local"]
    assert not os.path.exists(os.path.join(server.config_dir, "x.local"))


def test_disable_and_remove(f2b):
    server = f2b.server
    path = server.jail_file("web")
    f2b(**web_jail(server))

    disabled = f2b(**web_jail(server, enabled=False))
    assert disabled["changed"] is True and disabled["reloaded"] == "reload web", disabled
    assert "enabled = false\n" in read(path) and server.jails() == [BASE_JAIL]

    checked = f2b(check_mode=True, name="web", state="absent")
    assert checked["changed"] is True and checked["diff"]["after"] == "" and os.path.exists(path)

    removed = f2b(name="web", state="absent")
    assert removed["changed"] is True and not removed.get("failed"), removed
    assert not os.path.exists(path) and server.jails() == [BASE_JAIL]

    again = f2b(name="web", state="absent")
    assert again["changed"] is False and again["reloaded"] is None, again


def test_jail_written_without_reload_is_started_by_the_next_run(f2b):
    server = f2b.server
    written = f2b(reload=False, **web_jail(server))
    assert written["changed"] is True and written["reloaded"] is None, written
    assert written["running"] is False and server.jails() == [BASE_JAIL]

    started = f2b(**web_jail(server))
    assert started["changed"] is True and started["reloaded"] == "reload", started
    assert started["running"] is True and server.jails() == [BASE_JAIL, "web"]
    assert started["diff"]["before"] == started["diff"]["after"]

    removed = f2b(name="web", state="absent")
    assert removed["reloaded"] == "reload" and removed["running"] is False, removed
    assert server.jails() == [BASE_JAIL]


def test_stopped_daemon_is_an_error_unless_reload_is_false(f2b):
    server = f2b.server
    server.stop()
    failed = f2b(**web_jail(server))
    assert failed.get("failed") is True and "fail2ban-server is not running" in failed["msg"], failed
    assert "reload=false" in failed["msg"] and not os.path.exists(server.jail_file("web"))

    written = f2b(reload=False, **web_jail(server))
    assert written["changed"] is True and written["daemon_running"] is False, written
    assert "status" not in written and os.path.exists(server.jail_file("web"))


def test_ansible_doc_renders_and_examples_use_documented_options():
    shown = ansible("ansible-doc", MODULE)
    assert shown.returncode == 0 and "ERROR" not in shown.stderr, shown.stderr
    # What it says is read from the JSON: the text render folds lines at the terminal's width.
    doc = json.loads(ansible("ansible-doc", "--json", MODULE).stdout)[MODULE]
    assert "community.general has no fail2ban module" in " ".join(doc["doc"]["description"])
    options = set(doc["doc"]["options"])
    assert {"name", "state", "config_dir", "bantime_increment", "ignoreip", "logpath", "reload"} <= options
    assert {"file", "status", "reloaded", "running"} <= set(doc["return"])
    for task in yaml.safe_load(doc["examples"]):
        if MODULE in task:
            assert set(task[MODULE]) <= options, task
