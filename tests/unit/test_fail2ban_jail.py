"""The plain-data side of advwell.platform.fail2ban_jail: input checks, the drop-in's text,
and fail2ban-client 1.0's `status` output."""
import pytest

from ansible_collections.advwell.platform.plugins.module_utils.fail2ban_jail import (
    jail_list, jail_status, name_problem, params_problems, reload_command, render, time_problem,
    time_seconds)

JAIL_STATUS = (
    "Status for the jail: sshd\n"
    "|- Filter\n"
    "|  |- Currently failed:\t1\n"
    "|  |- Total failed:\t6\n"
    "|  `- File list:\t/var/log/auth.log /var/log/auth.log.1\n"
    "`- Actions\n"
    "   |- Currently banned:\t2\n"
    "   |- Total banned:\t3\n"
    "   `- Banned IP list:\t192.0.2.7 2001:db8::1\n"
)
SYSTEMD_JAIL_STATUS = (
    "Status for the jail: sshd\n"
    "|- Filter\n"
    "|  |- Currently failed:\t0\n"
    "|  |- Total failed:\t0\n"
    "|  `- Journal matches:\t_SYSTEMD_UNIT=sshd.service + _COMM=sshd\n"
    "`- Actions\n"
    "   |- Currently banned:\t0\n"
    "   |- Total banned:\t0\n"
    "   `- Banned IP list:\t\n"
)
SERVER_STATUS = "Status\n|- Number of jail:\t3\n`- Jail list:\tnginx-limit-req, recidive, sshd\n"


def params(**given):
    base = dict(name="sshd", state="present", enabled=True, filter=None, port=None, backend=None,
                maxretry=None, findtime=None, bantime=None, bantime_increment=None, bantime_factor=None,
                bantime_maxtime=None, ignoreip=None, action=None, logpath=None)
    base.update(given)
    return base


def test_jail_status_counts_ips_and_files():
    assert jail_status(JAIL_STATUS) == {
        "currently_failed": 1, "total_failed": 6, "currently_banned": 2, "total_banned": 3,
        "banned_ips": ["192.0.2.7", "2001:db8::1"],
        "file_list": ["/var/log/auth.log", "/var/log/auth.log.1"]}


def test_jail_status_of_a_systemd_jail_without_bans():
    status = jail_status(SYSTEMD_JAIL_STATUS)
    assert status["banned_ips"] == [] and status["file_list"] == []
    assert status["currently_banned"] == 0 and status["total_failed"] == 0


def test_jail_list_from_server_status():
    assert jail_list(SERVER_STATUS) == ["nginx-limit-req", "recidive", "sshd"]
    assert jail_list("Status\n|- Number of jail:\t0\n`- Jail list:\t\n") == []


@pytest.mark.parametrize("value, seconds", [
    (600, 600), ("600", 600), ("-1", -1), (-1, -1), ("10m", 600), ("1h", 3600), ("1d", 86400),
    ("1w", 604800), ("1h30m", 5400), ("1d 12h", 129600), ("2hours", 7200), ("90s", 90),
    ("1H", 3600), ("1y", 31557600), ("1mo", 2629800),
])
def test_fail2ban_times(value, seconds):
    assert time_seconds(value) == seconds


@pytest.mark.parametrize("value", ["soon", "", "10 m x", "1h*2", "m", "1.5h", "10q", True, "h1"])
def test_not_fail2ban_times(value):
    with pytest.raises(ValueError):
        time_seconds(value)


def test_time_problems_name_the_option():
    assert time_problem("bantime", "-1") is None
    assert time_problem("bantime", "soon").startswith("bantime: 'soon' is not a fail2ban time")
    assert time_problem("findtime", "-1").startswith("findtime: '-1' must be more than 0")
    assert time_problem("bantime_maxtime", 0).startswith("bantime_maxtime:")
    assert "-1 for a permanent ban" in time_problem("bantime", "0")


@pytest.mark.parametrize("name", ["sshd", "nginx-limit-req", "my_jail.v2", "_x", "9"])
def test_good_names(name):
    assert name_problem(name) is None


@pytest.mark.parametrize("name", ["../x", "x/../y", ".hidden", "a..b", "a/b", "-x", "", "a b",
                                  "x\n[sshd]", "DEFAULT", "INCLUDES"])
def test_bad_names(name):
    assert name_problem(name).startswith("name: ")


def test_params_problems_name_each_parameter():
    problems = params_problems(params(name="../x", bantime="soon", maxretry=0, bantime_factor=0.0,
                                      filter="sshd\nenabled = false", ignoreip=["10.0.0.1 10.0.0.2"]))
    assert [problem.split(":")[0] for problem in problems] == [
        "name", "bantime", "maxretry", "bantime_factor", "filter", "ignoreip"]
    assert params_problems(params(maxretry=1, bantime_factor=1.5, bantime=-1, findtime="1h30m")) == []


def test_render_writes_set_options_in_a_fixed_order_after_the_header():
    text = render(params(name="sshd", filter="sshd", port="ssh", backend="systemd", maxretry=3,
                         findtime="10m", bantime=3600, bantime_increment=True, bantime_factor=2.0,
                         bantime_maxtime="1w", ignoreip=["127.0.0.1/8", "::1"], action="dummy"))
    lines = text.splitlines()
    assert lines[0].startswith("# Managed by Ansible")
    assert lines[lines.index("[sshd]"):] == [
        "[sshd]", "enabled = true", "filter = sshd", "port = ssh", "backend = systemd", "maxretry = 3",
        "findtime = 10m", "bantime = 3600", "bantime.increment = true", "bantime.factor = 2",
        "bantime.maxtime = 1w", "ignoreip = 127.0.0.1/8 ::1", "action = dummy"]


def test_render_leaves_out_unset_options_and_is_deterministic():
    text = render(params(name="web", enabled=False, logpath=[]))
    assert text.endswith("[web]\nenabled = false\n")
    assert render(params(name="web", enabled=False)) == text


def test_render_multiline_values_stay_inside_the_value():
    text = render(params(name="web", action="nftables[name=web]\n\n  sendmail-whois[name=web]\n",
                         logpath=["/var/log/a.log", "/var/log/b.log"]))
    assert "action = nftables[name=web]\n         sendmail-whois[name=web]\n" in text
    assert "logpath = /var/log/a.log\n          /var/log/b.log\n" in text
    # Continuation lines start with spaces: none can open a section or a key.
    body = text.split("[web]\n", 1)[1]
    assert all(line.startswith(" ") or " = " in line for line in body.splitlines())


def test_reload_command():
    assert reload_command("sshd", was_running=True, present=True) == ["reload", "sshd"]
    assert reload_command("sshd", was_running=False, present=True) == ["reload"]
    assert reload_command("sshd", was_running=True, present=False) == ["reload"]
