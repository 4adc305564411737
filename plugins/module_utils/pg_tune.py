"""PostgreSQL tuning: PGTune's settings for a host, and unit-aware setting values.

The derivation follows the formulas of PGTune (https://pgtune.leopard.in.ua,
le0pard/pgtune) for a Linux server. Memory values are worked out in kB and
printed the way PGTune prints them: in GB or MB when that is exact, else in kB.

The second half reads and compares setting values the way the server does:
a value such as '4GB' given for shared_buffers (whose pg_settings.unit is '8kB')
is 524288 in the setting's own unit, the number pg_settings.setting shows.
"""
import math
import re

WORKLOADS = ("web", "oltp", "dw", "mixed", "desktop")
STORAGES = ("hdd", "ssd", "san", "nvme")

KB_PER_MB = 1024
KB_PER_GB = 1024 * 1024

# PGTune's input limits (its web form refuses anything below these).
MIN_MEMORY_BYTES = 512 * 1024 * 1024
MIN_MAX_CONNECTIONS = 20
MIN_VERSION = 10

DEFAULT_MAX_CONNECTIONS = {"web": 200, "oltp": 300, "dw": 40, "desktop": 20, "mixed": 100}
# Fraction of RAM: (shared_buffers, effective_cache_size, maintenance_work_mem).
MEMORY_SHARES = {
    "web": (1 / 4, 3 / 4, 1 / 16),
    "oltp": (1 / 4, 3 / 4, 1 / 16),
    "dw": (1 / 4, 3 / 4, 1 / 8),
    "mixed": (1 / 4, 3 / 4, 1 / 16),
    "desktop": (1 / 16, 1 / 4, 1 / 16),
}
WORK_MEM_DIVISOR = {"web": 1, "oltp": 1, "dw": 2, "mixed": 2, "desktop": 6}
# (min_wal_size, max_wal_size) in MB.
WAL_SIZES_MB = {
    "web": (1024, 4096),
    "oltp": (2048, 8192),
    "dw": (4096, 16384),
    "mixed": (1024, 4096),
    "desktop": (100, 2048),
}
RANDOM_PAGE_COST = {"hdd": "4", "ssd": "1.1", "san": "1.1", "nvme": "1.1"}
EFFECTIVE_IO_CONCURRENCY = {"hdd": 2, "ssd": 200, "san": 300, "nvme": 1000}

MAINTENANCE_WORK_MEM_CAP_KB = 8 * KB_PER_GB
WAL_BUFFERS_CAP_KB = 16 * KB_PER_MB
WAL_BUFFERS_ROUND_UP_FROM_KB = 14 * KB_PER_MB
WAL_BUFFERS_MIN_KB = 32
WORK_MEM_MIN_KB = 4 * KB_PER_MB
HUGE_PAGES_FROM_KB = 2 * KB_PER_GB
# PostgreSQL's own max_worker_processes default, which PGTune assumes when it
# derives no parallel settings (fewer than 4 CPUs).
DEFAULT_WORKER_PROCESSES = 8
MAX_GATHER_WORKERS = 4

MEMORY_UNITS = {"B": 1, "kB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3, "TB": 1024 ** 4}
TIME_UNITS_MS = {"us": 0.001, "ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
_VALUE_WITH_UNIT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z]*)\s*$")
_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$")

TRUE_WORDS = ("on", "true", "yes", "1")
FALSE_WORDS = ("off", "false", "no", "0")


# ---------------------------------------------------------------- PGTune inputs

def parse_memory(value):
    """Bytes in `value`: an int of bytes or a size such as '16GB', '512MB' (units any case)."""
    problem = f"memory: expected bytes or a size like '16GB', got {value!r}"
    if isinstance(value, bool) or value is None:
        raise ValueError(problem)
    if isinstance(value, int):
        return value
    parts = split_value(str(value))
    units = {name.lower(): size for name, size in MEMORY_UNITS.items()}
    units[""] = 1
    if parts is None or parts[1].lower() not in units:
        raise ValueError(problem)
    number, unit = parts
    return int(number * units[unit.lower()])


def _positive_int(name, value, minimum):
    problem = f"{name}: expected an integer >= {minimum}, got {value!r}"
    if isinstance(value, bool) or not re.match(r"^\s*\d+\s*$", str(value)):
        raise ValueError(problem)
    if int(value) < minimum:
        raise ValueError(problem)
    return int(value)


def major_version(version):
    """Major version from 15, '15', '16.2' or None (meaning a current release)."""
    if version is None:
        return None
    match = re.match(r"^\s*(\d+)(?:\.\d+)*\s*$", str(version))
    if not match or int(match.group(1)) < MIN_VERSION:
        raise ValueError(f"version: expected PostgreSQL {MIN_VERSION} or later (e.g. '15'), "
                         f"got {version!r}")
    return int(match.group(1))


def _choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name}: expected one of {', '.join(choices)}, got {value!r}")
    return value


# ---------------------------------------------------------------- PGTune formulas

def format_kb(kilobytes):
    """'4GB', '64MB' or '1310kB': the largest unit that shows `kilobytes` exactly (as PGTune)."""
    if kilobytes % KB_PER_GB == 0:
        return f"{kilobytes // KB_PER_GB}GB"
    if kilobytes % KB_PER_MB == 0:
        return f"{kilobytes // KB_PER_MB}MB"
    return f"{kilobytes}kB"


def wal_buffers_kb(shared_buffers_kb):
    """3% of shared_buffers, at most 16MB (and 16MB when it is nearly that), at least 32kB."""
    value = math.floor(3 * shared_buffers_kb / 100)
    if value > WAL_BUFFERS_ROUND_UP_FROM_KB:
        value = WAL_BUFFERS_CAP_KB
    return max(value, WAL_BUFFERS_MIN_KB)


def parallel_settings(cpus, workload, version):
    """Worker counts; PGTune derives none below 4 CPUs."""
    if not cpus or cpus < 4:
        return {}
    half = math.ceil(cpus / 2)
    # Data warehouses get a gather worker per two CPUs; others stop at 4 (little gain beyond).
    per_gather = half if workload == "dw" else min(half, MAX_GATHER_WORKERS)
    settings = {"max_worker_processes": cpus, "max_parallel_workers_per_gather": per_gather}
    if version is None or version >= 10:
        settings["max_parallel_workers"] = cpus
    if version is None or version >= 11:
        settings["max_parallel_maintenance_workers"] = min(half, MAX_GATHER_WORKERS)
    return settings


def work_mem_kb(memory_kb, shared_buffers_kb, max_connections, worker_processes, workload):
    """(RAM - shared_buffers) / ((connections + workers) * 3), per workload, at least 4MB.

    Each connection may use several work_mem areas at once (sorts, hashes), hence the 3.
    """
    per_connection = (memory_kb - shared_buffers_kb) / ((max_connections + worker_processes) * 3)
    value = math.floor(per_connection / WORK_MEM_DIVISOR[workload])
    return max(value, WORK_MEM_MIN_KB)


def memory_settings(memory_kb, workload, max_connections, worker_processes):
    shared_share, cache_share, maintenance_share = MEMORY_SHARES[workload]
    shared_buffers = math.floor(memory_kb * shared_share)
    maintenance = min(math.floor(memory_kb * maintenance_share), MAINTENANCE_WORK_MEM_CAP_KB)
    min_wal_mb, max_wal_mb = WAL_SIZES_MB[workload]
    return {
        "shared_buffers": format_kb(shared_buffers),
        "effective_cache_size": format_kb(math.floor(memory_kb * cache_share)),
        "maintenance_work_mem": format_kb(maintenance),
        "wal_buffers": format_kb(wal_buffers_kb(shared_buffers)),
        "work_mem": format_kb(work_mem_kb(memory_kb, shared_buffers, max_connections,
                                          worker_processes, workload)),
        "min_wal_size": format_kb(min_wal_mb * KB_PER_MB),
        "max_wal_size": format_kb(max_wal_mb * KB_PER_MB),
        "huge_pages": "try" if shared_buffers >= HUGE_PAGES_FROM_KB else "off",
    }


def setting_text(value):
    """A value as PostgreSQL text; YAML's `off`/`on` arrive as booleans."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None or isinstance(value, (dict, list)):
        raise ValueError(f"expected a string or a number, got {value!r}")
    return str(value)


def normalize_settings(settings, parameter="settings"):
    """`settings` with lower-case names and text values; ValueError names the bad entry."""
    if not isinstance(settings, dict):
        raise ValueError(f"{parameter}: expected a dict of setting -> value, got {settings!r}")
    normalized = {}
    for name, value in settings.items():
        if not isinstance(name, str) or not _SETTING_NAME.match(name):
            raise ValueError(f"{parameter}: {name!r} is not a setting name")
        try:
            normalized[name.lower()] = setting_text(value)
        except ValueError as error:
            raise ValueError(f"{parameter}.{name}: {error}") from None
    return normalized


def pg_tune(memory, cpus=None, storage="ssd", workload="web", version=None,
            max_connections=None, overrides=None):
    """PGTune's settings for a Linux host as {setting: value text}; `overrides` win.

    max_connections comes from the parameter, else from overrides, else PGTune's
    default for the workload; it feeds work_mem. Other overrides replace the
    derived value only.
    """
    _choice("workload", workload, WORKLOADS)
    _choice("storage", storage, STORAGES)
    memory_bytes = parse_memory(memory)
    if memory_bytes < MIN_MEMORY_BYTES:
        raise ValueError(f"memory: PGTune needs at least 512MB, got {memory!r}")
    cpus = None if cpus is None else _positive_int("cpus", cpus, 1)
    major = major_version(version)
    overrides = normalize_settings(overrides or {}, "overrides")
    if max_connections is None:
        max_connections = overrides.get("max_connections", DEFAULT_MAX_CONNECTIONS[workload])
    connections = _positive_int("max_connections", max_connections, MIN_MAX_CONNECTIONS)

    parallel = parallel_settings(cpus, workload, major)
    worker_processes = parallel.get("max_worker_processes", DEFAULT_WORKER_PROCESSES)
    settings = {"max_connections": str(connections)}
    settings.update(memory_settings(memory_bytes // 1024, workload, connections, worker_processes))
    settings.update({
        "checkpoint_completion_target": "0.9",
        "default_statistics_target": "500" if workload == "dw" else "100",
        "random_page_cost": RANDOM_PAGE_COST[storage],
        "effective_io_concurrency": str(EFFECTIVE_IO_CONCURRENCY[storage]),
    })
    settings.update({name: str(count) for name, count in parallel.items()})
    settings.update(overrides)
    return settings


# ---------------------------------------------------------------- setting values

def split_value(text):
    """(4.0, 'GB') from '4GB'; None when `text` is not a number with an optional unit."""
    match = _VALUE_WITH_UNIT.match(text)
    if not match:
        return None
    return float(match.group(1)), match.group(2)


def unit_kind(unit):
    """'memory', 'time' or None for a pg_settings.unit such as '8kB', 'kB', 'MB', 'ms', 's'."""
    base = (unit or "").lstrip("0123456789")
    if base in MEMORY_UNITS:
        return "memory"
    if base in TIME_UNITS_MS:
        return "time"
    return None


def _unit_size(unit):
    """Size of a pg_settings.unit in bytes or ms: '8kB' -> 8192, 's' -> 1000."""
    digits = re.match(r"^\d*", unit).group(0)
    base = unit[len(digits):]
    table = MEMORY_UNITS if base in MEMORY_UNITS else TIME_UNITS_MS
    return int(digits or 1) * table[base]


def to_base_units(value, unit):
    """`value` (e.g. '4GB', '30s', '128') as a number in the setting's unit `unit`.

    A bare number is already in that unit, as for the server. ValueError when the
    value is not a number or its unit does not fit the setting (PostgreSQL spells
    units case-sensitively: kB, MB, GB, TB, B; us, ms, s, min, h, d).
    """
    parts = split_value(str(value))
    if parts is None:
        raise ValueError(f"{value!r} is not a number")
    number, given = parts
    if not given:
        return number
    kind = unit_kind(unit)
    table = {"memory": MEMORY_UNITS, "time": TIME_UNITS_MS}.get(kind)
    if table is None:
        raise ValueError(f"{value!r} has a unit but the setting takes none")
    if given not in table:
        valid = ", ".join(table)
        raise ValueError(f"{value!r} has a bad unit {given!r} (valid: {valid})")
    return number * table[given] / _unit_size(unit)


def display_value(number, unit):
    """A base-unit number as SHOW prints it: 524288 with unit '8kB' -> '4GB'."""
    kind = unit_kind(unit)
    if kind is None or number <= 0 or number != int(number):
        return _plain_number(number)
    amount = int(number) * _unit_size(unit)
    units = MEMORY_UNITS if kind == "memory" else TIME_UNITS_MS
    for name, size in sorted(units.items(), key=lambda item: -item[1]):
        if amount % size == 0:
            return f"{int(amount // size)}{name}"
    return _plain_number(number)


def _plain_number(number):
    return str(int(number)) if number == int(number) else repr(float(number))


def bool_text(value):
    """'on' or 'off' for PostgreSQL's boolean spellings (any case), else None."""
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return "on"
    if word in FALSE_WORDS:
        return "off"
    return None


def enum_text(value, enumvals):
    """`value` as one of `enumvals` (case-insensitive); 'on'/'off' for boolean spellings."""
    word = str(value).strip().lower()
    allowed = [choice.lower() for choice in enumvals or ()]
    if word in allowed:
        return word
    as_bool = bool_text(word)
    if as_bool in allowed:
        return as_bool
    return None


def _in_range(number, row):
    low, high = row.get("min_val"), row.get("max_val")
    if low not in (None, "") and number < float(low):
        return False
    return high in (None, "") or number <= float(high)


def _numeric_value(value, row):
    number = to_base_units(value, row.get("unit"))
    if row["vartype"] == "integer":
        number = round(number)
    if not _in_range(number, row):
        unit = f" (in units of {row['unit']})" if row.get("unit") else ""
        raise ValueError(f"{value!r} is outside the server's range "
                         f"{row.get('min_val')}..{row.get('max_val')}{unit}")
    return number


def canonical_value(value, row):
    """`value` normalised for the setting described by `row` (a pg_settings row as a dict).

    Numbers come back in the setting's base unit, booleans as 'on'/'off', enum
    values in lower case. ValueError says why the server would refuse the value.
    """
    vartype = row["vartype"]
    if vartype in ("integer", "real"):
        return _numeric_value(value, row)
    if vartype == "bool":
        result = bool_text(value)
        if result is None:
            raise ValueError(f"{value!r} is not a boolean (on/off/true/false/yes/no/1/0)")
        return result
    if vartype == "enum":
        result = enum_text(value, row.get("enumvals"))
        if result is None:
            raise ValueError(f"{value!r} is not one of {', '.join(row.get('enumvals') or ())}")
        return result
    return str(value)


def same_value(left, right):
    """True when two canonical values are equal (reals within rounding)."""
    if isinstance(left, (int, float)) and isinstance(right, (int, float)):
        return math.isclose(left, right, rel_tol=1e-9, abs_tol=1e-12)
    return left == right


def describe(canonical, row):
    """A canonical value as SHOW prints it ('4GB', '0.9', 'on')."""
    if isinstance(canonical, (int, float)):
        return display_value(canonical, row.get("unit"))
    return canonical
