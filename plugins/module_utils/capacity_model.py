"""Capacity model of the backend: the requests per second the platform can serve, and why.

A request holds one pooled database connection for as long as its queries take, the
round trip to the database host plus the server's time, ``queries_per_request *
(round_trip_ms + db_ms_per_query)``. By Little's law applied to the pool (requests in
flight = arrival rate x time each is held), a pool of ``pool_size`` connections busy all
the time serves at most ``pool_size / hold`` requests per second, and the replicas
together ``replicas * pool_size / hold``: with the database on another host the round
trip, not the CPU, is what usually sets the ceiling. Three more ceilings are computed
the same way: what the server's ``max_connections`` would allow once the exporter, the
backup jobs and the reserved slots have theirs, the app host's CPUs
(``app_cpu_ms_per_request`` per request, each replica one process using at most
``cpus_per_replica`` cores), and the database host's CPUs (``db_ms_per_query`` per
query). The lowest is the ceiling; divided by an office's peak rate it gives offices.

The replicas a target needs are searched only within the connection budget of
module_utils/connection_budget.py, so the model never proposes more replicas than
``max_replicas``. Phase 7 checks the model against the lab's measurements.

The ceiling is a rate the replicas cannot exceed, however requests arrive; requests queue
for a connection well before it when they arrive unevenly. With a latency objective
(``slo_p99_ms``) the model also gives the knee: the highest rate whose p99 response stays
within it. Each replica is a queue with ``pool_size`` servers whose service is the hold
(round trips, which hardly vary: deterministic). Its arrivals' variability is what the
traffic brings (``arrival_scv``, the squared coefficient of variation of the gaps between
requests: 0 for a constant-rate generator, 1 for users arriving at random) as the edge
splits it: round robin sends every n-th request to a replica (scv / n), a random choice
each request with probability 1/n (scv / n + 1 - 1/n). The chance of waiting is Erlang C's;
the wait's tail is exponential with the mean of the Allen-Cunneen approximation for a
GI/G/c queue, ``C / (c / hold - rate) * (ca2 + cs2) / 2``, so a replica whose arrivals
are even (ca2 = 0) does not queue before its pool is full.
"""
import math

from ansible_collections.advwell.platform.plugins.module_utils.connection_budget import (
    BudgetError, _count, connection_budget)

# The seed measured 830 req/s for the 200 offices it was sized for.
OFFICE_PEAK_RPS = 4.15

# Ceilings in the order that wins ties.
LIMITS = ("pool", "connections", "app_cpu", "database_cpu")

_NAMES = {
    "pool": "the pool",
    "connections": "the server's connections",
    "app_cpu": "app CPU",
    "database_cpu": "database CPU",
}

_STOPPED_BY = {
    "connections": "the connection budget",
    "app_cpu": "app CPU",
    "database_cpu": "database CPU",
}

# How the edge spreads requests over the replicas (see the module's documentation).
BALANCING = ("round_robin", "random")

# The latency objective is a p99.
_SLO_PERCENTILE = 0.99

# Relative slack for comparing floats that should be equal (400 x 4.15 against 6 x 25 / 0.085).
_SLACK = 1e-9


class CapacityError(ValueError):
    pass


def _whole(name, value, minimum=0):
    """A whole number, read by the connection budget's rules."""
    try:
        return _count(name, value, minimum)
    except BudgetError as error:
        raise CapacityError(str(error)) from None


def _number(name, value, positive=False):
    """A finite number at least 0 (above 0 when ``positive``); numeric strings are read."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise CapacityError(f"{name} must be a number, got {value!r}")
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise CapacityError(f"{name} must be a number, got {value!r}") from None
    else:
        number = float(value)
    if not math.isfinite(number):
        raise CapacityError(f"{name} must be a finite number, got {value!r}")
    if positive and number <= 0:
        raise CapacityError(f"{name} must be greater than 0, got {value!r}")
    if number < 0:
        raise CapacityError(f"{name} must be at least 0, got {value!r}")
    return number


def _show(value):
    """A number for the arithmetic text: whole from 100 up, three significant digits below."""
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def _plural(count, word, words):
    return f"{_show(count)} {word if count == 1 else words}"


def _limits(replicas, pool_size, available, hold, app_seconds, app_cpus, cpus_per_replica,
            db_seconds, db_cpus):
    """The four ceilings in req/s for ``replicas``; math.inf where a resource takes no time."""
    return {
        "pool": replicas * pool_size / hold,
        "connections": available / hold,
        "app_cpu": (min(replicas * cpus_per_replica, app_cpus) / app_seconds
                    if app_seconds > 0 else math.inf),
        "database_cpu": db_cpus / db_seconds if db_seconds > 0 else math.inf,
    }


def _lowest(limits):
    """The lowest ceiling and its name, the first of LIMITS on ties."""
    name = min(LIMITS, key=lambda limit: (limits[limit], LIMITS.index(limit)))
    return limits[name], name


def capacity_model(replicas, pool_size, max_connections, round_trip_ms, queries_per_request,
                   db_ms_per_query, app_cpu_ms_per_request, app_cpus, db_cpus,
                   cpus_per_replica=1.0, exporter=0, backup_jobs=0, reserved=0,
                   target_rps=None, target_offices=None, office_peak_rps=OFFICE_PEAK_RPS,
                   slo_p99_ms=None, arrival_scv=1.0, balancing="round_robin"):
    """The ceilings, the lowest, offices, the replicas a target needs, the knee within a p99
    objective, and the arithmetic."""
    replicas = _whole("replicas", replicas, 1)
    pool_size = _whole("pool_size", pool_size, 1)
    max_connections = _whole("max_connections", max_connections, 1)
    round_trip_ms = _number("round_trip_ms", round_trip_ms)
    queries_per_request = _number("queries_per_request", queries_per_request, positive=True)
    db_ms_per_query = _number("db_ms_per_query", db_ms_per_query)
    if round_trip_ms + db_ms_per_query <= 0:
        raise CapacityError("round_trip_ms + db_ms_per_query must be greater than 0, got 0: "
                            "a request holds its connection for some time")
    app_cpu_ms_per_request = _number("app_cpu_ms_per_request", app_cpu_ms_per_request)
    app_cpus = _number("app_cpus", app_cpus, positive=True)
    db_cpus = _number("db_cpus", db_cpus, positive=True)
    cpus_per_replica = _number("cpus_per_replica", cpus_per_replica, positive=True)
    exporter = _whole("exporter", exporter)
    backup_jobs = _whole("backup_jobs", backup_jobs)
    reserved = _whole("reserved", reserved)
    if target_rps is not None and target_offices is not None:
        raise CapacityError("target_rps and target_offices are exclusive: give one of them, "
                            f"got target_rps={target_rps!r} and target_offices={target_offices!r}")
    if target_rps is not None:
        target_rps = _number("target_rps", target_rps, positive=True)
    if target_offices is not None:
        target_offices = _number("target_offices", target_offices, positive=True)
    office_peak_rps = _number("office_peak_rps", office_peak_rps, positive=True)
    if slo_p99_ms is not None:
        slo_p99_ms = _number("slo_p99_ms", slo_p99_ms, positive=True)
    arrival_scv = _number("arrival_scv", arrival_scv)
    if balancing not in BALANCING:
        raise CapacityError(f"balancing must be one of {', '.join(BALANCING)}, got {balancing!r}")

    budget = connection_budget(replicas, pool_size, max_connections, exporter, backup_jobs, reserved)
    hold_ms = queries_per_request * (round_trip_ms + db_ms_per_query)
    hold = hold_ms / 1000
    available = max(0, max_connections - exporter - backup_jobs - reserved)
    app_seconds = app_cpu_ms_per_request / 1000
    db_seconds = queries_per_request * db_ms_per_query / 1000

    def limits_for(count):
        return _limits(count, pool_size, available, hold, app_seconds, app_cpus, cpus_per_replica,
                       db_seconds, db_cpus)

    limits = limits_for(replicas)
    ceiling, limited_by = _lowest(limits)
    offices = _offices(ceiling, office_peak_rps)

    parts = [
        f"{_plural(replicas, 'replica', 'replicas')} x "
        f"{_plural(pool_size, 'connection', 'connections')} / "
        f"({_plural(queries_per_request, 'query', 'queries')} x "
        f"({_show(round_trip_ms)} ms + {_show(db_ms_per_query)} ms)) = "
        f"{_show(limits['pool'])} req/s (pool)",
        (f"app CPU min({_plural(replicas, 'replica', 'replicas')} x "
         f"{_plural(cpus_per_replica, 'CPU', 'CPUs')}, {_plural(app_cpus, 'CPU', 'CPUs')}) / "
         f"{_show(app_cpu_ms_per_request)} ms = {_show(limits['app_cpu'])} req/s"
         if app_seconds > 0 else "app CPU unlimited (0 ms per request)"),
        (f"database CPU {_plural(db_cpus, 'CPU', 'CPUs')} / "
         f"({_plural(queries_per_request, 'query', 'queries')} x {_show(db_ms_per_query)} ms) = "
         f"{_show(limits['database_cpu'])} req/s"
         if db_seconds > 0 else "database CPU unlimited (0 ms per query)"),
        f"connections ({max_connections} - exporter {exporter} - backup jobs {backup_jobs} - "
        f"reserved {reserved}) / {_show(hold_ms)} ms = {_show(limits['connections'])} req/s",
    ]
    arithmetic = (f"{'; '.join(parts)}: ceiling {_show(ceiling)} req/s, set by {_NAMES[limited_by]}; "
                  f"{offices} offices at {_show(office_peak_rps)} req/s each")

    knee = knee_offices = None
    replica_scv = replica_arrival_scv(arrival_scv, replicas, balancing)
    if slo_p99_ms is not None:
        knee = min(_knee(replicas, pool_size, hold, app_seconds, replica_scv, slo_p99_ms / 1000), ceiling)
        knee_offices = _offices(knee, office_peak_rps)
        arithmetic += (f"; p99 within {_show(slo_p99_ms)} ms up to {_show(knee)} req/s "
                       f"({_plural(pool_size, 'connection', 'connections')} a replica, arrivals' scv "
                       f"{_show(arrival_scv)} split by {balancing.replace('_', ' ')}: "
                       f"{_show(replica_scv)} at each replica)")

    replicas_for_target = target_limited_by = target_ceiling = None
    if target_offices is not None:
        target_rps = target_offices * office_peak_rps
    if target_rps is not None:
        replicas_for_target, target_ceiling, target_limited_by = _replicas_for(
            target_rps, budget["max_replicas"], limits_for, app_cpus, cpus_per_replica)
        wanted = (f"{_show(target_offices)} offices x {_show(office_peak_rps)} req/s = "
                  if target_offices is not None else "")
        wanted += f"{_show(target_rps)} req/s"
        if replicas_for_target is not None:
            arithmetic += (f"; {wanted} needs {_plural(replicas_for_target, 'replica', 'replicas')} "
                           f"({_show(target_ceiling)} req/s)")
        else:
            arithmetic += (f"; {wanted} is out of reach within the budget's "
                           f"{_plural(budget['max_replicas'], 'replica', 'replicas')}: "
                           f"at most {_show(target_ceiling)} req/s, stopped by "
                           f"{_STOPPED_BY[target_limited_by]}")

    return {
        "replicas": replicas,
        "connection_seconds_per_request": hold,
        "per_replica_rps": pool_size / hold,
        "limits": {name: (None if math.isinf(value) else value) for name, value in limits.items()},
        "ceiling_rps": ceiling,
        "limited_by": limited_by,
        "office_peak_rps": office_peak_rps,
        "offices": offices,
        "budget": budget,
        "target_rps": target_rps,
        "target_offices": target_offices,
        "replicas_for_target": replicas_for_target,
        "target_ceiling_rps": target_ceiling,
        "target_limited_by": target_limited_by,
        "slo_p99_ms": slo_p99_ms,
        "replica_arrival_scv": replica_scv,
        "knee_rps": knee,
        "knee_offices": knee_offices,
        "arithmetic": arithmetic,
    }


def _offices(rate, office_peak_rps):
    """Offices served at ``rate``, rounded down (exactly 830 req/s is 200 offices, not 199)."""
    return math.floor(round(rate / office_peak_rps, 9))


def replica_arrival_scv(arrival_scv, replicas, balancing):
    """The scv of the gaps between the requests one replica receives: round robin gives it
    every n-th request (the sum of n gaps), a random choice each with probability 1/n."""
    if balancing == "round_robin":
        return arrival_scv / replicas
    return arrival_scv / replicas + 1 - 1 / replicas


def _waiting_chance(servers, load):
    """Erlang C: the chance that a request waits for one of ``servers`` connections busy
    ``load`` of the time in all (arrival rate x hold), by Erlang B's recursion."""
    if load >= servers:
        return 1.0
    blocked = 1.0
    for count in range(1, servers + 1):
        blocked = load * blocked / (count + load * blocked)
    return blocked / (1 - load / servers * (1 - blocked))


def _p99_seconds(rate, servers, hold, own_seconds, scv):
    """The p99 response of one replica receiving ``rate`` req/s: its own time, plus the wait
    that Erlang C's chance and an exponential tail with Allen-Cunneen's mean give."""
    spare = servers / hold - rate
    if spare <= 0:
        return math.inf
    waiting = _waiting_chance(servers, rate * hold)
    miss = 1 - _SLO_PERCENTILE
    if scv <= 0 or waiting <= miss:
        return hold + own_seconds
    return hold + own_seconds + math.log(waiting / miss) * scv / (2 * spare)


def _knee(replicas, servers, hold, own_seconds, scv, slo_seconds):
    """The highest rate over the replicas whose p99 response is within the objective; the p99
    rises with the rate, so it is found by bisection below the pools' ceiling."""
    if hold + own_seconds > slo_seconds:
        return 0.0
    low, high = 0.0, servers / hold
    if _p99_seconds(high * (1 - _SLACK), servers, hold, own_seconds, scv) <= slo_seconds:
        return replicas * high
    for _step in range(60):
        middle = (low + high) / 2
        if _p99_seconds(middle, servers, hold, own_seconds, scv) <= slo_seconds:
            low = middle
        else:
            high = middle
    return replicas * low


def _replicas_for(target_rps, max_replicas, limits_for, app_cpus, cpus_per_replica):
    """(replicas, their ceiling, None), or (None, the best ceiling, what stops it).

    The ceiling never falls as replicas are added, so the smallest count that reaches the
    target is found by bisection between 1 and the budget's max_replicas.
    """
    if max_replicas < 1:
        return None, 0.0, "connections"
    best, limit = _lowest(limits_for(max_replicas))
    if best < target_rps * (1 - _SLACK):
        # The pool (or the server's connections) still growing with replicas when the budget
        # ends is the budget's limit; so is app CPU while the replicas do not use every core.
        if limit == "database_cpu" or (limit == "app_cpu" and
                                       max_replicas * cpus_per_replica >= app_cpus):
            return None, best, limit
        return None, best, "connections"
    low, high = 1, max_replicas
    while low < high:
        middle = (low + high) // 2
        if _lowest(limits_for(middle))[0] >= target_rps * (1 - _SLACK):
            high = middle
        else:
            low = middle + 1
    return low, _lowest(limits_for(low))[0], None
