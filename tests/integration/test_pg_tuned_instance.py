"""advwell.platform.pg_tuned_instance against real PostgreSQL servers, run by ansible-playbook.

Each server here is started for this module alone: the tests change its
configuration, which the shared session server must not see.
"""
import json
import os
from contextlib import closing

import pytest

from tests.fixtures.postgres import SUPERUSER_PASSWORD, running_postgres
from tests.integration.ansible_run import run_module as run_ansible_module

COMMAND_LINE_WORK_MEM = "8MB"


@pytest.fixture(scope="module")
def server():
    with running_postgres() as started:
        yield started


@pytest.fixture(scope="module")
def command_line_server():
    with running_postgres(f"-c work_mem={COMMAND_LINE_WORK_MEM}") as started:
        yield started


def show(server, name):
    with closing(server.connect()) as conn, conn.cursor() as cursor:
        cursor.execute(f"SHOW {name}")
        return cursor.fetchone()[0]


def pending_restart(server, name):
    with closing(server.connect()) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT pending_restart FROM pg_settings WHERE name = %s", (name,))
        return cursor.fetchone()[0]


def auto_conf(server):
    with open(os.path.join(server.datadir, "postgresql.auto.conf")) as handle:
        return handle.read()


def run_module(tmp_path, server, check_mode=False, verbosity="-v", **module_args):
    """Runs the module in a playbook and returns (registered result, playbook run)."""
    login = dict(login_host=server.host, login_port=server.port, login_user=server.user,
                 login_password=server.password, login_db="postgres", connect_timeout=5)
    result, run = run_ansible_module(tmp_path, "advwell.platform.pg_tuned_instance",
                                     dict(login, **module_args), check_mode, verbosity)
    assert SUPERUSER_PASSWORD not in json.dumps(result) + run.stdout + run.stderr
    return result, run


SEED = dict(memory="16GB", cpus=4, storage="ssd", workload="web", version="15", settings={
    "max_connections": 500, "shared_buffers": "4GB", "effective_cache_size": "12GB",
    "work_mem": "64MB", "maintenance_work_mem": "1GB", "wal_buffers": "64MB"})


def test_check_mode_reports_the_seed_tuning_and_changes_nothing(server, tmp_path):
    before = auto_conf(server)
    result, run = run_module(tmp_path, server, check_mode=True, **SEED)
    assert not result.get("failed"), result
    assert result["changed"] is True
    assert result["settings"]["work_mem"] == "64MB"
    assert result["settings"]["effective_io_concurrency"] == "200"
    assert result["settings"]["max_parallel_workers_per_gather"] == "2"
    assert "ALTER SYSTEM SET \"work_mem\" = '64MB'" in result["executed_queries"]
    assert result["executed_queries"][-1] == "SELECT pg_reload_conf()"
    assert result["diff"]["before"]["shared_buffers"] == "128MB"
    assert result["diff"]["after"]["shared_buffers"] == "4GB"
    assert result["restart_required"] is True
    assert {"shared_buffers", "max_connections", "wal_buffers"} <= set(
        result["restart_pending_settings"])
    assert show(server, "work_mem") == "4MB"
    assert show(server, "shared_buffers") == "128MB"
    assert auto_conf(server) == before


def test_apply_sets_the_values_and_reloads(server, tmp_path):
    result, run = run_module(tmp_path, server, settings={
        "work_mem": "16384kB", "maintenance_work_mem": "128MB", "random_page_cost": 1.1})
    assert not result.get("failed"), result
    assert result["changed"] is True
    assert result["diff"] == {
        "before": {"work_mem": "4MB", "maintenance_work_mem": "64MB", "random_page_cost": "4"},
        "after": {"work_mem": "16384kB", "maintenance_work_mem": "128MB",
                  "random_page_cost": "1.1"}}
    assert result["restart_required"] is False
    assert result["executed_queries"][-1] == "SELECT pg_reload_conf()"
    assert show(server, "work_mem") == "16MB"
    assert show(server, "maintenance_work_mem") == "128MB"
    assert show(server, "random_page_cost") == "1.1"
    assert "work_mem = '16384kB'" in auto_conf(server)


def test_apply_again_changes_nothing_whatever_the_spelling(server, tmp_path):
    result, run = run_module(tmp_path, server, settings={
        "work_mem": "16MB", "maintenance_work_mem": "131072kB", "random_page_cost": "1.10"})
    assert not result.get("failed"), result
    assert result["changed"] is False
    assert result["executed_queries"] == []
    assert result["diff"] == {"before": {}, "after": {}}


def test_restart_only_setting_is_written_and_reported(server, tmp_path):
    result, run = run_module(tmp_path, server, settings={"shared_buffers": "256MB"})
    assert not result.get("failed"), result
    assert result["changed"] is True
    assert result["restart_required"] is True
    assert result["restart_pending_settings"] == ["shared_buffers"]
    assert show(server, "shared_buffers") == "128MB"
    assert pending_restart(server, "shared_buffers") is True

    again, run = run_module(tmp_path, server, settings={"shared_buffers": "32768"})
    assert again["changed"] is False, again
    assert again["restart_required"] is True
    assert again["restart_pending_settings"] == ["shared_buffers"]


@pytest.mark.parametrize("settings,named", [
    ({"work_mem": "32MB", "no_such_setting": "1"}, "no_such_setting"),
    ({"work_mem": "32MB", "maintenance_work_mem": "256Mb"}, "maintenance_work_mem"),
    ({"work_mem": "32MB", "max_connections": 0}, "max_connections"),
    ({"work_mem": "32MB", "huge_pages": "sometimes"}, "huge_pages"),
    ({"work_mem": "32MB", "random_page_cost": "4MB"}, "random_page_cost"),
])
def test_bad_setting_fails_before_any_change(server, tmp_path, settings, named):
    before = auto_conf(server)
    result, run = run_module(tmp_path, server, settings=settings)
    assert result["failed"] is True
    assert named in result["msg"]
    assert "work_mem" not in result["msg"].replace("maintenance_work_mem", "")
    assert result["executed_queries"] == []
    assert auto_conf(server) == before
    assert show(server, "work_mem") == "16MB"


@pytest.mark.parametrize("module_args,named", [
    ({"memory": "lots"}, "memory"),
    ({"memory": "16GB", "workload": "batch"}, "workload"),
    ({"memory": "16GB", "storage": "tape"}, "storage"),
    ({"memory": "16GB", "cpus": "many"}, "cpus"),
    ({"memory": "16GB", "version": "nine"}, "version"),
    ({"cpus": 4}, "memory"),
])
def test_bad_parameter_is_named(server, tmp_path, module_args, named):
    before = auto_conf(server)
    result, run = run_module(tmp_path, server, **module_args)
    assert result["failed"] is True
    assert named in result["msg"]
    assert auto_conf(server) == before


def test_command_line_setting_that_differs_fails(command_line_server, tmp_path):
    before = auto_conf(command_line_server)
    result, run = run_module(tmp_path, command_line_server,
                             settings={"random_page_cost": "1.1", "work_mem": "32MB"})
    assert result["failed"] is True
    assert "work_mem" in result["msg"] and "command line" in result["msg"]
    assert auto_conf(command_line_server) == before
    assert show(command_line_server, "random_page_cost") == "4"


def test_command_line_setting_that_matches_is_fine(command_line_server, tmp_path):
    result, run = run_module(tmp_path, command_line_server, settings={"work_mem": "8192kB"})
    assert not result.get("failed"), result
    assert result["changed"] is False


def test_password_never_appears_even_verbose(server, tmp_path):
    # run_module checks the playbook output and the registered result of every run;
    # this adds the most verbose output, of a failing and a succeeding run.
    failed, run = run_module(tmp_path, server, verbosity="-vvv",
                             settings={"work_mem": "16MB", "no_such_setting": "1"})
    assert failed["failed"] is True
    ok, run = run_module(tmp_path, server, verbosity="-vvv", settings={"work_mem": "16MB"})
    assert not ok.get("failed"), ok
    # The module's arguments are in the verbose output, the password masked: the checks above
    # looked where it would be. (One token: the callback's folding cannot split it.)
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in run.stdout
