"""The capacity model of phase 7, with the seed's numbers worked by hand."""
import json
import math

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.advwell.platform.plugins.filter.capacity import FilterModule
from ansible_collections.advwell.platform.plugins.filter.capacity import (
    capacity_model as capacity_filter)
from ansible_collections.advwell.platform.plugins.module_utils.capacity_model import (
    CapacityError, capacity_model)

# The seed: 3 replicas x 25 connections, database on another host 85 ms away, one query a
# request that takes the server no time worth counting, little app CPU; max_connections 500.
SEED = {
    "replicas": 3, "pool_size": 25, "max_connections": 500, "round_trip_ms": 85,
    "queries_per_request": 1, "db_ms_per_query": 0, "app_cpu_ms_per_request": 0.5,
    "app_cpus": 4, "db_cpus": 2,
}


def model(**changes):
    return capacity_model(**{**SEED, **changes})


def test_seed_numbers_882_requests_per_second_set_by_the_pool_212_offices():
    # 3 x 25 / 0.085 s = 882.35 req/s; / 4.15 = 212.6 offices
    result = model()
    assert result["connection_seconds_per_request"] == pytest.approx(0.085)
    assert result["ceiling_rps"] == pytest.approx(882, abs=1)
    assert result["ceiling_rps"] == pytest.approx(75 / 0.085)
    assert result["per_replica_rps"] == pytest.approx(25 / 0.085)
    assert result["limited_by"] == "pool"
    assert result["offices"] == 212
    assert result["limits"]["app_cpu"] == pytest.approx(3 / 0.0005)
    assert result["limits"]["connections"] == pytest.approx(500 / 0.085)
    assert result["limits"]["database_cpu"] is None
    assert result["budget"]["total"] == 75 and result["budget"]["max_replicas"] == 20
    assert result["arithmetic"] == (
        "3 replicas x 25 connections / (1 query x (85 ms + 0 ms)) = 882 req/s (pool); "
        "app CPU min(3 replicas x 1 CPU, 4 CPUs) / 0.5 ms = 6000 req/s; "
        "database CPU unlimited (0 ms per query); "
        "connections (500 - exporter 0 - backup jobs 0 - reserved 0) / 85 ms = 5882 req/s: "
        "ceiling 882 req/s, set by the pool; 212 offices at 4.15 req/s each")


def test_without_a_target_the_target_keys_are_none():
    result = model()
    for key in ("target_rps", "target_offices", "replicas_for_target", "target_ceiling_rps",
                "target_limited_by"):
        assert result[key] is None


def test_default_office_rate_is_the_seeds_830_for_200_offices():
    assert model()["office_peak_rps"] == pytest.approx(830 / 200)
    assert model(office_peak_rps=830 / 200)["offices"] == 212
    # Exactly 830 req/s is 200 offices, not 199.99...
    assert model(replicas=1, pool_size=83, round_trip_ms=100)["offices"] == 200


def test_seeds_400_offices_need_6_replicas():
    # 400 x 4.15 = 1660 req/s; 5 x 25 / 0.085 = 1471 is short, 6 x 25 / 0.085 = 1765 is enough.
    result = model(target_offices=400)
    assert result["target_rps"] == pytest.approx(1660)
    assert result["target_offices"] == 400
    assert result["replicas_for_target"] == 6
    assert result["target_ceiling_rps"] == pytest.approx(150 / 0.085)
    assert result["target_limited_by"] is None
    assert result["arithmetic"].endswith(
        "; 400 offices x 4.15 req/s = 1660 req/s needs 6 replicas (1765 req/s)")
    # The same with the lab's exporter, backup jobs and reserve, and as req/s.
    assert model(exporter=1, backup_jobs=5, reserved=3, target_offices=400)["replicas_for_target"] == 6
    assert model(target_rps=1660)["replicas_for_target"] == 6
    # Six replicas serve the seed's "400+" offices.
    assert model(replicas=6)["offices"] == 425


def test_a_target_the_current_replicas_already_reach_needs_fewer():
    result = model(target_rps=200)
    assert result["replicas_for_target"] == 1
    assert result["target_ceiling_rps"] == pytest.approx(25 / 0.085)


def test_app_cpu_bound():
    # 20 ms of CPU a request: min(3 x 1, 4) cores / 0.020 s = 150 req/s, below the pool's 882.
    result = model(app_cpu_ms_per_request=20)
    assert result["limited_by"] == "app_cpu"
    assert result["ceiling_rps"] == pytest.approx(150)
    assert result["offices"] == 36
    assert "app CPU min(3 replicas x 1 CPU, 4 CPUs) / 20 ms = 150 req/s" in result["arithmetic"]
    assert result["arithmetic"].endswith("ceiling 150 req/s, set by app CPU; 36 offices at 4.15 req/s each")
    # More replicas than cores: the host's 4 cores are the limit, 200 req/s.
    assert model(replicas=6, app_cpu_ms_per_request=20)["ceiling_rps"] == pytest.approx(200)
    # Replicas that use 2 cores each reach the 4 cores with 2 replicas.
    assert model(replicas=2, cpus_per_replica=2, app_cpu_ms_per_request=20)["ceiling_rps"] == (
        pytest.approx(200))


def test_database_cpu_bound():
    # 10 queries of 2 ms on 2 CPUs: 2 / 0.020 s = 100 req/s; the pool: 75 / (10 x 2.5 ms) = 3000.
    result = model(round_trip_ms=0.5, queries_per_request=10, db_ms_per_query=2)
    assert result["limited_by"] == "database_cpu"
    assert result["ceiling_rps"] == pytest.approx(100)
    assert result["limits"]["pool"] == pytest.approx(3000)
    assert result["connection_seconds_per_request"] == pytest.approx(0.025)
    assert "database CPU 2 CPUs / (10 queries x 2 ms) = 100 req/s" in result["arithmetic"]
    assert "set by database CPU" in result["arithmetic"]


def test_connections_bound_when_the_pools_exceed_what_the_server_has_left():
    # 10 x 25 = 250 pooled, but 200 - 3 - 4 - 3 = 190 are left: 190 / 0.085 = 2235 < 2941.
    result = model(replicas=10, max_connections=200, exporter=3, backup_jobs=4, reserved=3)
    assert result["limited_by"] == "connections"
    assert result["ceiling_rps"] == pytest.approx(190 / 0.085)
    assert result["limits"]["pool"] == pytest.approx(250 / 0.085)
    assert result["budget"]["fits"] is False
    assert "set by the server's connections" in result["arithmetic"]


def test_ties_go_to_the_pool_first():
    # 1 x 10 / 0.1 s = 100 req/s, 1 core / 0.01 s = 100 req/s.
    result = model(replicas=1, pool_size=10, round_trip_ms=100, app_cpu_ms_per_request=10, app_cpus=1)
    assert result["limits"]["pool"] == result["limits"]["app_cpu"] == 100
    assert result["limited_by"] == "pool"


def test_target_beyond_the_budget_is_out_of_reach_by_connections():
    # (100 - 3) // 25 = 3 replicas at most: 3 x 25 / 0.085 = 882 req/s, not 400 offices' 1660.
    result = model(max_connections=100, reserved=3, target_offices=400)
    assert result["budget"]["max_replicas"] == 3
    assert result["replicas_for_target"] is None
    assert result["target_limited_by"] == "connections"
    assert result["target_ceiling_rps"] == pytest.approx(75 / 0.085)
    assert result["arithmetic"].endswith(
        "1660 req/s is out of reach within the budget's 3 replicas: "
        "at most 882 req/s, stopped by the connection budget")
    # 2000 offices are beyond even the seed's 20 replicas.
    assert model(target_offices=2000)["target_limited_by"] == "connections"


def test_budget_without_room_for_one_replica():
    result = model(replicas=1, max_connections=20, target_rps=10)
    assert result["budget"]["max_replicas"] == 0
    assert (result["replicas_for_target"], result["target_ceiling_rps"], result["target_limited_by"]) == (
        None, 0.0, "connections")


def test_target_capped_by_app_cpu():
    # 4 cores / 10 ms = 400 req/s whatever the replicas: 500 req/s is out of reach.
    result = model(app_cpu_ms_per_request=10, target_rps=500)
    assert result["replicas_for_target"] is None
    assert result["target_limited_by"] == "app_cpu"
    assert result["target_ceiling_rps"] == pytest.approx(400)
    assert result["arithmetic"].endswith("at most 400 req/s, stopped by app CPU")
    # 350 req/s is reached with 4 replicas (3: 300 req/s).
    assert model(app_cpu_ms_per_request=10, target_rps=350)["replicas_for_target"] == 4


def test_app_cpu_that_more_replicas_would_raise_is_the_budgets_limit():
    # Replicas of a quarter core: 4 replicas (the budget of 100) use 1 of 8 cores, 100 req/s.
    result = model(max_connections=100, cpus_per_replica=0.25, app_cpus=8, app_cpu_ms_per_request=10,
                   target_rps=200)
    assert result["target_ceiling_rps"] == pytest.approx(100)
    assert result["target_limited_by"] == "connections"


def test_target_capped_by_database_cpu():
    result = model(round_trip_ms=0.5, queries_per_request=10, db_ms_per_query=2, target_rps=150)
    assert (result["replicas_for_target"], result["target_limited_by"]) == (None, "database_cpu")
    assert result["target_ceiling_rps"] == pytest.approx(100)


@pytest.mark.parametrize("changes", [
    {},
    {"app_cpu_ms_per_request": 2, "cpus_per_replica": 0.5},
    {"round_trip_ms": 1, "queries_per_request": 4, "db_ms_per_query": 3, "db_cpus": 1},
    {"max_connections": 130, "exporter": 2, "backup_jobs": 1, "reserved": 3},
])
def test_replicas_for_target_is_the_smallest_within_the_budget(changes):
    for target in (1, 50, 300, 882, 1000, 1660, 3000, 6000, 10000):
        result = model(target_rps=target, **changes)
        max_replicas = result["budget"]["max_replicas"]
        reaching = [n for n in range(1, max_replicas + 1)
                    if model(replicas=n, **changes)["ceiling_rps"] >= target]
        assert result["replicas_for_target"] == (reaching[0] if reaching else None)
        assert result["replicas_for_target"] is None or result["replicas_for_target"] <= max_replicas


def test_numeric_strings_are_read():
    result = capacity_model("3", "25", "500", "85.2", "1", "0", "0.5", "4", "2",
                            cpus_per_replica="1", exporter="1", backup_jobs="5", reserved="3",
                            target_offices="400", office_peak_rps="4.15")
    assert result["ceiling_rps"] == pytest.approx(75 / 0.0852)
    assert result["replicas_for_target"] == 6
    assert "(85.2 ms + 0 ms)" in result["arithmetic"]


def test_result_is_json_without_infinities():
    result = model(app_cpu_ms_per_request=0, target_rps=1e6)
    assert result["limits"]["app_cpu"] is None and result["limits"]["database_cpu"] is None
    assert "app CPU unlimited (0 ms per request)" in result["arithmetic"]
    assert json.loads(json.dumps(result, allow_nan=False)) == result
    json.dumps(model(target_offices=400), allow_nan=False)
    assert all(value is None or math.isfinite(value) for value in result["limits"].values())


@pytest.mark.parametrize("changes,message", [
    ({"replicas": 0}, "replicas must be at least 1, got 0"),
    ({"replicas": True}, "replicas must be a whole number"),
    ({"pool_size": 0}, "pool_size must be at least 1, got 0"),
    ({"max_connections": "lots"}, "max_connections must be a whole number, got 'lots'"),
    ({"round_trip_ms": -1}, "round_trip_ms must be at least 0, got -1"),
    ({"round_trip_ms": "fast"}, "round_trip_ms must be a number, got 'fast'"),
    ({"round_trip_ms": None}, "round_trip_ms must be a number, got None"),
    ({"round_trip_ms": 0, "db_ms_per_query": 0}, "round_trip_ms + db_ms_per_query must be greater than 0"),
    ({"queries_per_request": 0}, "queries_per_request must be greater than 0, got 0"),
    ({"db_ms_per_query": True}, "db_ms_per_query must be a number, got True"),
    ({"db_ms_per_query": [1]}, "db_ms_per_query must be a number, got [1]"),
    ({"app_cpu_ms_per_request": -0.5}, "app_cpu_ms_per_request must be at least 0, got -0.5"),
    ({"app_cpus": 0}, "app_cpus must be greater than 0, got 0"),
    ({"db_cpus": "0"}, "db_cpus must be greater than 0, got '0'"),
    ({"db_cpus": "nan"}, "db_cpus must be a finite number, got 'nan'"),
    ({"cpus_per_replica": 0}, "cpus_per_replica must be greater than 0, got 0"),
    ({"exporter": -1}, "exporter must be at least 0, got -1"),
    ({"backup_jobs": 1.5}, "backup_jobs must be a whole number, got 1.5"),
    ({"reserved": -3}, "reserved must be at least 0, got -3"),
    ({"target_rps": 0}, "target_rps must be greater than 0, got 0"),
    ({"target_rps": float("inf")}, "target_rps must be a finite number"),
    ({"target_offices": -1}, "target_offices must be greater than 0, got -1"),
    ({"target_offices": "many"}, "target_offices must be a number, got 'many'"),
    ({"office_peak_rps": 0}, "office_peak_rps must be greater than 0, got 0"),
    ({"target_rps": 1000, "target_offices": 200}, "target_rps and target_offices are exclusive"),
])
def test_bad_input_names_the_parameter(changes, message):
    with pytest.raises(CapacityError) as raised:
        model(**changes)
    assert message in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_filter_returns_the_model_with_replicas_as_input():
    assert FilterModule().filters()["capacity_model"] is capacity_filter
    assert capacity_filter(3, pool_size=25, max_connections=500, round_trip_ms=85,
                           queries_per_request=1, db_ms_per_query=0, app_cpu_ms_per_request=0.5,
                           app_cpus=4, db_cpus=2, target_offices=400) == model(target_offices=400)


def test_filter_raises_ansible_filter_error():
    with pytest.raises(AnsibleFilterError, match=r"^capacity_model: pool_size must be at least 1, got 0"):
        capacity_filter(3, pool_size=0, max_connections=500, round_trip_ms=85, queries_per_request=1,
                        db_ms_per_query=0, app_cpu_ms_per_request=0.5, app_cpus=4, db_cpus=2)
    with pytest.raises(AnsibleFilterError, match="capacity_model: target_rps and target_offices"):
        capacity_filter(**SEED, target_rps=1, target_offices=1)


# The knee: the highest rate whose p99 response stays within the objective.

def test_without_an_objective_there_is_no_knee():
    result = model()
    assert result["knee_rps"] is None and result["knee_offices"] is None and result["slo_p99_ms"] is None
    assert "p99 within" not in result["arithmetic"]


def test_even_arrivals_at_each_replica_do_not_queue_before_the_pool_is_full():
    # A constant-rate stream, or one split in turn: every replica's gaps are equal, so no
    # request waits while the pool has room; the knee is the ceiling.
    for replicas in (1, 2, 3):
        result = model(replicas=replicas, slo_p99_ms=500, arrival_scv=0, balancing="round_robin")
        assert result["replica_arrival_scv"] == 0
        assert result["knee_rps"] == pytest.approx(result["ceiling_rps"])
    assert model(replicas=1, slo_p99_ms=500, arrival_scv=0, balancing="random")["knee_rps"] == (
        pytest.approx(model(replicas=1)["ceiling_rps"]))


def test_the_arrivals_each_replica_sees_as_the_edge_splits_them():
    # Round robin: every n-th request, the sum of n gaps (scv / n). Random: each request to a
    # replica with probability 1/n (scv / n + 1 - 1/n).
    assert model(replicas=3, slo_p99_ms=500, arrival_scv=1)["replica_arrival_scv"] == pytest.approx(1 / 3)
    assert model(replicas=3, slo_p99_ms=500, arrival_scv=0, balancing="random")["replica_arrival_scv"] == (
        pytest.approx(2 / 3))
    assert model(replicas=2, slo_p99_ms=500, arrival_scv=1, balancing="random")["replica_arrival_scv"] == (
        pytest.approx(1))


def test_uneven_arrivals_queue_before_the_ceiling_and_more_so_the_more_uneven():
    knees = [model(replicas=3, pool_size=3, slo_p99_ms=500, arrival_scv=scv, balancing="random")["knee_rps"]
             for scv in (0, 0.5, 1, 2)]
    ceiling = model(replicas=3, pool_size=3)["ceiling_rps"]
    assert all(knee < ceiling for knee in knees)
    assert knees == sorted(knees, reverse=True) and len(set(knees)) == 4


def test_a_larger_pool_queues_less():
    # The same load per connection: 25 connections a replica pool it better than 3.
    small = model(replicas=1, pool_size=3, slo_p99_ms=300, arrival_scv=1)
    large = model(replicas=1, pool_size=25, slo_p99_ms=300, arrival_scv=1)
    assert small["knee_rps"] / small["ceiling_rps"] < large["knee_rps"] / large["ceiling_rps"] < 1


def test_the_knee_by_hand_one_connection_random_arrivals():
    # One connection of 100 ms, Poisson arrivals (M/D/1 here): Erlang C's chance of waiting is
    # the load a = rate x 0.1, and the wait's tail exp(-t x 2 (10 - rate) / 1). At the knee
    # the p99 is 500 ms: 0.1 + ln(a / 0.01) / (2 (10 - rate)) = 0.5.
    result = model(replicas=1, pool_size=1, round_trip_ms=100, app_cpu_ms_per_request=0,
                   slo_p99_ms=500, arrival_scv=1)
    rate = result["knee_rps"]
    assert 0.1 + math.log(rate * 0.1 / 0.01) / (2 * (10 - rate)) == pytest.approx(0.5, abs=1e-6)
    assert 0 < rate < 10


def test_the_lab_measured_the_knees_the_model_gives():
    # scripts/lab capacity, 2026-12-05: 3 connections a replica, 2.01 queries of 87 ms a
    # request, a constant-rate generator behind nginx's random choice of a replica; the knee
    # measured (p99 within 500 ms) at 1, 2 and 3 replicas: 16.0, 24.4 and 37.5 req/s.
    for replicas, measured in ((1, 16.0), (2, 24.4), (3, 37.5)):
        knee = capacity_model(replicas, 3, 100, 87.2, 2.01, 0.02, 1.0, 2, 2, slo_p99_ms=500,
                              arrival_scv=0, balancing="random")["knee_rps"]
        assert abs(measured - knee) / knee <= 0.2, (replicas, measured, knee)


def test_the_seeds_pool_with_users_arriving_at_random_keeps_its_knee_near_the_ceiling():
    # 25 connections a replica pool so much that users' random arrivals, split in turn by
    # Traefik, queue only in the last few per cent below the 882 req/s.
    result = model(slo_p99_ms=500, arrival_scv=1, balancing="round_robin")
    assert 0.95 * result["ceiling_rps"] < result["knee_rps"] < result["ceiling_rps"]
    assert result["knee_offices"] == math.floor(result["knee_rps"] / 4.15) == 211
    assert result["arithmetic"].endswith(
        f"; p99 within 500 ms up to {result['knee_rps']:.0f} req/s (25 connections a replica, arrivals' "
        "scv 1 split by round robin: 0.333 at each replica)")


def test_an_objective_below_a_requests_own_time_has_no_knee():
    # Each request holds its connection 85 ms and takes 0.5 ms of CPU: 80 ms cannot be met.
    assert model(slo_p99_ms=80)["knee_rps"] == 0


def test_the_knee_never_passes_a_lower_ceiling():
    result = model(app_cpu_ms_per_request=2, app_cpus=1, slo_p99_ms=500, arrival_scv=0)
    assert result["limited_by"] == "app_cpu"
    assert result["knee_rps"] == pytest.approx(result["ceiling_rps"]) == pytest.approx(500)


@pytest.mark.parametrize("changes,message", [
    ({"slo_p99_ms": 0}, "slo_p99_ms must be greater than 0, got 0"),
    ({"slo_p99_ms": "soon"}, "slo_p99_ms must be a number, got 'soon'"),
    ({"arrival_scv": -1}, "arrival_scv must be at least 0, got -1"),
    ({"balancing": "least_conn"}, "balancing must be one of round_robin, random, got 'least_conn'"),
])
def test_bad_knee_input_names_the_parameter(changes, message):
    with pytest.raises(CapacityError, match=message):
        model(**changes)
