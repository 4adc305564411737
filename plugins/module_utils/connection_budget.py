"""Connection budget of the database host: what every client may open, against max_connections.

Every backend replica keeps a pool of up to ``pool_size`` connections; the exporter,
the backup jobs and PostgreSQL's reserved superuser slots take theirs on top. The
sum must stay within ``max_connections`` or replicas start failing under load.
"""


class BudgetError(ValueError):
    pass


def _count(name, value, minimum=0):
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value), 10)
        except ValueError:
            raise BudgetError(f"{name} must be a whole number, got {value!r}") from None
    if value < minimum:
        raise BudgetError(f"{name} must be at least {minimum}, got {value}")
    return value


def connection_budget(replicas, pool_size, max_connections, exporter=0, backup_jobs=0, reserved=0):
    """The budget as a dict: each part, the total, what is free, whether it fits, and the arithmetic."""
    replicas = _count("replicas", replicas)
    pool_size = _count("pool_size", pool_size, 1)
    max_connections = _count("max_connections", max_connections, 1)
    exporter = _count("exporter", exporter)
    backup_jobs = _count("backup_jobs", backup_jobs)
    reserved = _count("reserved", reserved)

    backend = replicas * pool_size
    total = backend + exporter + backup_jobs + reserved
    free = max_connections - total
    arithmetic = (f"backend {replicas} x {pool_size} = {backend}, exporter {exporter}, "
                  f"backup jobs {backup_jobs}, reserved {reserved}: {total} of {max_connections}, "
                  + (f"{free} free" if free >= 0 else f"{-free} over"))
    return {
        "backend": backend,
        "total": total,
        "max_connections": max_connections,
        "free": free,
        "fits": free >= 0,
        "max_replicas": max(0, (max_connections - exporter - backup_jobs - reserved) // pool_size),
        "arithmetic": arithmetic,
    }
