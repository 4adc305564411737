"""PGTune derivation and PostgreSQL unit handling (module_utils/pg_tune.py, filter pg_tune).

Expected values are worked out by hand from PGTune's formulas; memory in kB
(1 GB = 1048576 kB), printed in GB/MB only when exact.
"""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.advwell.platform.plugins.filter.pg_tune import FilterModule
from ansible_collections.advwell.platform.plugins.module_utils.pg_tune import (
    canonical_value, describe, display_value, normalize_settings, parse_memory, pg_tune,
    same_value, to_base_units, wal_buffers_kb)

SEED_OVERRIDES = {
    "max_connections": 500, "shared_buffers": "4GB", "effective_cache_size": "12GB",
    "work_mem": "64MB", "maintenance_work_mem": "1GB", "wal_buffers": "64MB",
}

# The seed's database host: 16 GB = 16777216 kB, 4 vCPU, ssd, web, PostgreSQL 16.
#   max_connections      web default                        = 200
#   shared_buffers       16777216 / 4      = 4194304 kB     = 4GB
#   effective_cache_size 16777216 * 3 / 4  = 12582912 kB    = 12GB
#   maintenance_work_mem 16777216 / 16     = 1048576 kB     = 1GB (under the 8GB cap)
#   wal_buffers          3% of 4194304     = 125829 kB > 16MB -> 16MB
#   max_worker_processes cpus = 4 (4 CPUs or more: parallel settings are derived)
#   work_mem             (16777216 - 4194304) / ((200 + 4) * 3)
#                        = 12582912 / 612  = 20560.3 -> 20560kB (web: not divided; >= 4MB)
#   min/max_wal_size     web: 1GB / 4GB
#   huge_pages           shared_buffers 4GB >= 2GB -> try
#   per gather           ceil(4 / 2) = 2 (<= 4); maintenance workers ceil(4 / 2) = 2
SEED_DERIVED = {
    "max_connections": "200",
    "shared_buffers": "4GB",
    "effective_cache_size": "12GB",
    "maintenance_work_mem": "1GB",
    "wal_buffers": "16MB",
    "work_mem": "20560kB",
    "min_wal_size": "1GB",
    "max_wal_size": "4GB",
    "huge_pages": "try",
    "checkpoint_completion_target": "0.9",
    "default_statistics_target": "100",
    "random_page_cost": "1.1",
    "effective_io_concurrency": "200",
    "max_worker_processes": "4",
    "max_parallel_workers_per_gather": "2",
    "max_parallel_workers": "4",
    "max_parallel_maintenance_workers": "2",
}


def test_seed_host_derivation():
    assert pg_tune("16GB", cpus=4, storage="ssd", workload="web", version=16) == SEED_DERIVED


def test_seed_host_with_the_seed_overrides():
    settings = pg_tune("16GB", cpus=4, storage="ssd", workload="web", version=16,
                       overrides=SEED_OVERRIDES)
    assert settings == dict(SEED_DERIVED, max_connections="500", work_mem="64MB",
                            wal_buffers="64MB")


def test_max_connections_from_overrides_feeds_work_mem():
    # (16777216 - 4194304) / ((500 + 4) * 3) = 12582912 / 1512 = 8322.03 -> 8322kB
    settings = pg_tune("16GB", cpus=4, overrides={"max_connections": 500})
    assert settings["work_mem"] == "8322kB"
    assert pg_tune("16GB", cpus=4, max_connections=500)["work_mem"] == "8322kB"


def test_max_connections_parameter_wins_for_derivation_but_override_wins_in_output():
    settings = pg_tune("16GB", cpus=4, max_connections=500, overrides={"max_connections": 300})
    assert settings["work_mem"] == "8322kB"
    assert settings["max_connections"] == "300"


def test_memory_in_bytes_and_megabytes_gives_the_same_result():
    assert pg_tune(16 * 1024 ** 3, cpus=4, version=16) == SEED_DERIVED
    assert pg_tune("16384MB", cpus=4, version="16.2") == SEED_DERIVED
    assert pg_tune("16gb", cpus="4", version="16") == SEED_DERIVED


def test_data_warehouse_on_hdd():
    # 64 GB = 67108864 kB, 16 CPUs, dw, hdd, PostgreSQL 15, 40 connections (dw default)
    #   shared_buffers 67108864 / 4 = 16777216 kB = 16GB; effective_cache_size 3/4 = 48GB
    #   maintenance_work_mem 67108864 / 8 = 8388608 kB = 8GB (exactly the cap)
    #   work_mem (67108864 - 16777216) / ((40 + 16) * 3) = 50331648 / 168 = 299593.14,
    #            dw halves it: 149796.57 -> 149796kB
    #   per gather ceil(16 / 2) = 8 (dw is not capped at 4); maintenance workers min(8, 4) = 4
    assert pg_tune("64GB", cpus=16, storage="hdd", workload="dw", version=15) == {
        "max_connections": "40",
        "shared_buffers": "16GB",
        "effective_cache_size": "48GB",
        "maintenance_work_mem": "8GB",
        "wal_buffers": "16MB",
        "work_mem": "149796kB",
        "min_wal_size": "4GB",
        "max_wal_size": "16GB",
        "huge_pages": "try",
        "checkpoint_completion_target": "0.9",
        "default_statistics_target": "500",
        "random_page_cost": "4",
        "effective_io_concurrency": "2",
        "max_worker_processes": "16",
        "max_parallel_workers_per_gather": "8",
        "max_parallel_workers": "16",
        "max_parallel_maintenance_workers": "4",
    }


def test_oltp_on_nvme():
    # 32 GB = 33554432 kB, 8 CPUs, oltp (300 connections)
    #   work_mem (33554432 - 8388608) / ((300 + 8) * 3) = 25165824 / 924 = 27235.7 -> 27235kB
    settings = pg_tune("32GB", cpus=8, storage="nvme", workload="oltp", version=16)
    assert settings["max_connections"] == "300"
    assert settings["shared_buffers"] == "8GB"
    assert settings["effective_cache_size"] == "24GB"
    assert settings["maintenance_work_mem"] == "2GB"
    assert settings["work_mem"] == "27235kB"
    assert (settings["min_wal_size"], settings["max_wal_size"]) == ("2GB", "8GB")
    assert (settings["random_page_cost"], settings["effective_io_concurrency"]) == ("1.1", "1000")
    assert settings["max_parallel_workers_per_gather"] == "4"


def test_mixed_on_san_with_two_cpus():
    # 8 GB = 8388608 kB, 2 CPUs: no parallel settings, work_mem assumes 8 worker processes
    #   shared_buffers 2097152 kB = 2GB -> huge_pages try (the threshold is inclusive)
    #   work_mem (8388608 - 2097152) / ((100 + 8) * 3) = 6291456 / 324 = 19418.07,
    #            mixed halves it: 9709.03 -> 9709kB
    settings = pg_tune("8GB", cpus=2, storage="san", workload="mixed", version=15)
    assert settings["max_connections"] == "100"
    assert settings["shared_buffers"] == "2GB"
    assert settings["maintenance_work_mem"] == "512MB"
    assert settings["work_mem"] == "9709kB"
    assert settings["huge_pages"] == "try"
    assert settings["effective_io_concurrency"] == "300"
    assert not any(name.startswith("max_parallel") or name == "max_worker_processes"
                   for name in settings)


def test_desktop():
    # 4 GB = 4194304 kB, 1 CPU, desktop (20 connections)
    #   shared_buffers 4194304 / 16 = 262144 kB = 256MB; effective_cache_size / 4 = 1GB
    #   wal_buffers 3% of 262144 = 7864.32 -> 7864kB
    #   work_mem (4194304 - 262144) / ((20 + 8) * 3) = 3932160 / 84 = 46811.4,
    #            desktop divides by 6: 7801.9 -> 7801kB
    settings = pg_tune("4GB", cpus=1, workload="desktop", version=15)
    assert settings["max_connections"] == "20"
    assert settings["shared_buffers"] == "256MB"
    assert settings["effective_cache_size"] == "1GB"
    assert settings["maintenance_work_mem"] == "256MB"
    assert settings["wal_buffers"] == "7864kB"
    assert settings["work_mem"] == "7801kB"
    assert (settings["min_wal_size"], settings["max_wal_size"]) == ("100MB", "2GB")
    assert settings["huge_pages"] == "off"


def test_maintenance_work_mem_is_capped_at_8gb():
    # 256 GB / 16 = 16GB -> 8GB
    assert pg_tune("256GB", cpus=32, version=16)["maintenance_work_mem"] == "8GB"


@pytest.mark.parametrize("version,expected", [
    (10, {"max_worker_processes", "max_parallel_workers_per_gather", "max_parallel_workers"}),
    (11, {"max_worker_processes", "max_parallel_workers_per_gather", "max_parallel_workers",
          "max_parallel_maintenance_workers"}),
])
def test_parallel_settings_depend_on_the_version(version, expected):
    settings = pg_tune("16GB", cpus=12, version=version)
    assert {name for name in settings if "worker" in name} == expected
    assert settings["max_parallel_workers_per_gather"] == "4"  # ceil(12 / 2) = 6, capped at 4


def test_smallest_host_pgtune_accepts():
    # 512 MB = 524288 kB, web, no CPU count
    #   shared_buffers 131072 kB = 128MB; effective_cache_size 393216 kB = 384MB
    #   maintenance_work_mem 32768 kB = 32MB; wal_buffers 3% of 131072 = 3932.16 -> 3932kB
    #   work_mem (524288 - 131072) / ((200 + 8) * 3) = 630.2 -> raised to the 4MB floor
    settings = pg_tune("512MB", version=15)
    assert settings["shared_buffers"] == "128MB"
    assert settings["effective_cache_size"] == "384MB"
    assert settings["maintenance_work_mem"] == "32MB"
    assert settings["wal_buffers"] == "3932kB"
    assert settings["work_mem"] == "4MB"
    assert settings["huge_pages"] == "off"


@pytest.mark.parametrize("memory,wal_buffers", [
    ("1800MB", "13824kB"),  # shared 460800 kB, 3% = 13824 kB: below 14MB, kept
    ("1920MB", "16MB"),     # shared 491520 kB, 3% = 14745.6 -> 14745 kB > 14MB: rounded up
    ("2GB", "16MB"),        # shared 524288 kB, 3% = 15728.64 -> 15728 kB > 14MB: rounded up
])
def test_wal_buffers_rounds_up_near_16mb(memory, wal_buffers):
    assert pg_tune(memory)["wal_buffers"] == wal_buffers


def test_wal_buffers_floor_is_32kb():
    assert wal_buffers_kb(1000) == 32  # 3% = 30 kB


def test_huge_pages_just_below_the_threshold():
    # 7 GB / 4 = 1792MB < 2GB
    assert pg_tune("7GB")["huge_pages"] == "off"


def test_yaml_booleans_in_overrides_become_on_off():
    assert pg_tune("16GB", overrides={"huge_pages": False})["huge_pages"] == "off"
    assert normalize_settings({"JIT": True, "Random_Page_Cost": 1.5}) == {
        "jit": "on", "random_page_cost": "1.5"}


@pytest.mark.parametrize("kwargs,parameter", [
    ({"memory": None}, "memory"),
    ({"memory": "lots"}, "memory"),
    ({"memory": "16XB"}, "memory"),
    ({"memory": True}, "memory"),
    ({"memory": "511MB"}, "memory"),
    ({"memory": "16GB", "cpus": 0}, "cpus"),
    ({"memory": "16GB", "cpus": "four"}, "cpus"),
    ({"memory": "16GB", "storage": "tape"}, "storage"),
    ({"memory": "16GB", "workload": "batch"}, "workload"),
    ({"memory": "16GB", "version": "9.6"}, "version"),
    ({"memory": "16GB", "version": "latest"}, "version"),
    ({"memory": "16GB", "max_connections": 10}, "max_connections"),
    ({"memory": "16GB", "max_connections": "many"}, "max_connections"),
    ({"memory": "16GB", "overrides": ["work_mem"]}, "overrides"),
    ({"memory": "16GB", "overrides": {"work mem": "4MB"}}, "overrides"),
    ({"memory": "16GB", "overrides": {"work_mem": None}}, "overrides.work_mem"),
])
def test_bad_input_names_the_parameter(kwargs, parameter):
    with pytest.raises(ValueError, match=rf"^{parameter}\b"):
        pg_tune(**kwargs)


def test_filter_is_registered_and_reports_bad_input():
    pg_tune_filter = FilterModule().filters()["pg_tune"]
    assert pg_tune_filter("16GB", cpus=4, version=16) == SEED_DERIVED
    with pytest.raises(AnsibleFilterError, match="workload"):
        pg_tune_filter("16GB", workload="batch")


@pytest.mark.parametrize("memory,expected", [
    (17179869184, 17179869184), ("16GB", 17179869184), ("16384MB", 17179869184),
    ("1TB", 1024 ** 4), ("1.5GB", 1610612736), ("2048", 2048), ("8 kB", 8192)])
def test_parse_memory(memory, expected):
    assert parse_memory(memory) == expected


# ---------------------------------------------------------------- unit normalisation

@pytest.mark.parametrize("value", ["4GB", "4096MB", "4194304kB", "524288", "4294967296B"])
def test_shared_buffers_spellings_are_the_same_value(value):
    assert to_base_units(value, "8kB") == 524288


@pytest.mark.parametrize("value,unit,expected", [
    ("64MB", "kB", 65536), ("1GB", "MB", 1024), ("16MB", "B", 16777216),
    ("30s", "ms", 30000), ("5min", "s", 300), ("1h", "min", 60), ("1d", "s", 86400),
    ("1500us", "ms", 1.5), ("10 min", "ms", 600000), ("-1", "kB", -1), ("0.9", None, 0.9)])
def test_to_base_units(value, unit, expected):
    assert to_base_units(value, unit) == pytest.approx(expected)


@pytest.mark.parametrize("value,unit", [
    ("4Gb", "8kB"), ("4gb", "kB"), ("4XB", "kB"), ("30sec", "ms"),
    ("5ms", "kB"), ("4MB", "s"), ("4MB", None), ("four", "kB"), ("", "kB")])
def test_bad_units_are_refused(value, unit):
    with pytest.raises(ValueError):
        to_base_units(value, unit)


@pytest.mark.parametrize("number,unit,shown", [
    (524288, "8kB", "4GB"), (16384, "8kB", "128MB"), (164, "8kB", "1312kB"),
    (4096, "kB", "4MB"), (20560, "kB", "20560kB"), (1024, "MB", "1GB"), (80, "MB", "80MB"),
    (30000, "ms", "30s"), (3600, "s", "1h"), (90, "s", "90s"), (-1, "kB", "-1"), (0, "ms", "0"),
    (0.9, None, "0.9"), (200, None, "200")])
def test_display_value_is_what_show_prints(number, unit, shown):
    assert display_value(number, unit) == shown


def _row(vartype, unit=None, min_val=None, max_val=None, enumvals=None):
    return {"vartype": vartype, "unit": unit, "min_val": min_val, "max_val": max_val,
            "enumvals": enumvals}


SHARED_BUFFERS = _row("integer", "8kB", "16", "1073741823")
WORK_MEM = _row("integer", "kB", "64", "2147483647")
MAX_CONNECTIONS = _row("integer", None, "1", "262143")
RANDOM_PAGE_COST = _row("real", None, "0", "1.79769e+308")
HUGE_PAGES = _row("enum", enumvals=["off", "on", "try"])
FSYNC = _row("bool")


def test_canonical_values_compare_across_units():
    assert canonical_value("4GB", SHARED_BUFFERS) == canonical_value("4194304kB", SHARED_BUFFERS)
    assert canonical_value("4GB", SHARED_BUFFERS) == 524288
    assert same_value(canonical_value("4MB", WORK_MEM), float("4096"))
    assert same_value(canonical_value("1.1", RANDOM_PAGE_COST), float("1.1"))
    assert describe(canonical_value("4194304kB", SHARED_BUFFERS), SHARED_BUFFERS) == "4GB"


def test_integer_settings_round_like_the_server():
    # 1310kB / 8kB = 163.75 -> 164 buffers
    assert canonical_value("1310kB", SHARED_BUFFERS) == 164


@pytest.mark.parametrize("spelling", ["on", "ON", "true", "Yes", "1"])
def test_boolean_spellings(spelling):
    assert canonical_value(spelling, FSYNC) == "on"


@pytest.mark.parametrize("spelling", ["off", "False", "NO", "0"])
def test_boolean_false_spellings(spelling):
    assert canonical_value(spelling, FSYNC) == "off"


@pytest.mark.parametrize("spelling,expected", [("TRY", "try"), ("Off", "off"), ("false", "off")])
def test_enum_values_compare_case_insensitively(spelling, expected):
    assert canonical_value(spelling, HUGE_PAGES) == expected


@pytest.mark.parametrize("value,row,message", [
    ("0", MAX_CONNECTIONS, "outside"),
    ("1000000", MAX_CONNECTIONS, "outside"),
    ("8kB", WORK_MEM, "outside"),
    ("4MB", MAX_CONNECTIONS, "takes none"),
    ("4Mb", WORK_MEM, "bad unit"),
    ("sometimes", HUGE_PAGES, "not one of"),
    ("maybe", FSYNC, "not a boolean"),
    ("-0.5", RANDOM_PAGE_COST, "outside"),
])
def test_values_the_server_would_refuse(value, row, message):
    with pytest.raises(ValueError, match=message):
        canonical_value(value, row)
