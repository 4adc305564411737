"""Filters of phase 7: the capacity model (module_utils/capacity_model.py) and the reading of
a load sweep (module_utils/loadgen.py)."""
from ansible.errors import AnsibleFilterError

from ansible_collections.advwell.platform.plugins.module_utils import loadgen

from ansible_collections.advwell.platform.plugins.module_utils.capacity_model import (
    OFFICE_PEAK_RPS, CapacityError, capacity_model as compute)


def capacity_model(replicas, pool_size, max_connections, round_trip_ms, queries_per_request,
                   db_ms_per_query, app_cpu_ms_per_request, app_cpus, db_cpus,
                   cpus_per_replica=1.0, exporter=0, backup_jobs=0, reserved=0,
                   target_rps=None, target_offices=None, office_peak_rps=OFFICE_PEAK_RPS,
                   slo_p99_ms=None, arrival_scv=1.0, balancing="round_robin"):
    """The capacity of ``replicas`` backend replicas; see the filter's documentation."""
    try:
        return compute(replicas, pool_size, max_connections, round_trip_ms, queries_per_request,
                       db_ms_per_query, app_cpu_ms_per_request, app_cpus, db_cpus,
                       cpus_per_replica=cpus_per_replica, exporter=exporter,
                       backup_jobs=backup_jobs, reserved=reserved, target_rps=target_rps,
                       target_offices=target_offices, office_peak_rps=office_peak_rps,
                       slo_p99_ms=slo_p99_ms, arrival_scv=arrival_scv, balancing=balancing)
    except CapacityError as error:
        raise AnsibleFilterError(f"capacity_model: {error}") from None


def sweep_rates(start, factor, stop):
    """Rising rates from ``start`` by ``factor`` up to ``stop``; see the filter's documentation."""
    try:
        return loadgen.sweep_rates(float(start), float(factor), float(stop))
    except (loadgen.LoadError, TypeError, ValueError) as error:
        raise AnsibleFilterError(f"sweep_rates: {error}") from None


def sweep_reading(steps, generator_ceiling_rps, slo_p99_ms, max_error_ratio):
    """The ceiling and knee of a sweep's steps; see the filter's documentation."""
    try:
        return loadgen.read_sweep(steps, float(generator_ceiling_rps or 0), float(slo_p99_ms),
                                  float(max_error_ratio))
    except (KeyError, TypeError, ValueError) as error:
        raise AnsibleFilterError(f"sweep_reading: not a load_test sweep ({error})") from None


class FilterModule:
    def filters(self):
        return {"capacity_model": capacity_model, "sweep_rates": sweep_rates,
                "sweep_reading": sweep_reading}
