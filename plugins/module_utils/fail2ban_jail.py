"""A fail2ban jail drop-in, from plain data: input checks, the file's text, `status` output.

The module advwell.platform.fail2ban_jail does the file work and runs fail2ban-client;
everything here is tested without fail2ban.
"""
import re

HEADER = ("# Managed by Ansible (advwell.platform.fail2ban_jail): changes made here are overwritten.\n"
          "# Jail {name}; fail2ban reads this file after jail.conf, jail.d/*.conf and jail.local.\n")

NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
# Section names that mean something else to fail2ban's config reader.
RESERVED_NAMES = ("DEFAULT", "INCLUDES")

# A subset of what fail2ban's own parser (MyTime.str2seconds) accepts: whole numbers with
# a unit, several of them in a row ("1h30m", "1d 12h"). Its arithmetic ("1h*2") is left out
# on purpose: a typo there becomes a different time instead of an error.
UNIT_SECONDS = {}
for _names, _seconds in ((("s", "sec", "secs", "second", "seconds"), 1),
                         (("m", "min", "mins", "minute", "minutes"), 60),
                         (("h", "hour", "hours"), 3600),
                         (("d", "day", "days"), 86400),
                         (("w", "week", "weeks"), 7 * 86400),
                         (("mo", "mon", "month", "months"), 365.25 * 86400 / 12),
                         (("y", "year", "years"), 365.25 * 86400)):
    UNIT_SECONDS.update(dict.fromkeys(_names, _seconds))
TIME_PART_RE = re.compile(r"\s*(\d+)\s*([a-z]+)", re.IGNORECASE)

# Jail options in the order they are written, with the fail2ban key of each.
OPTION_KEYS = (
    ("enabled", "enabled"),
    ("filter", "filter"),
    ("port", "port"),
    ("backend", "backend"),
    ("maxretry", "maxretry"),
    ("findtime", "findtime"),
    ("bantime", "bantime"),
    ("bantime_increment", "bantime.increment"),
    ("bantime_factor", "bantime.factor"),
    ("bantime_maxtime", "bantime.maxtime"),
    ("ignoreip", "ignoreip"),
    ("action", "action"),
    ("logpath", "logpath"),
)
TIME_OPTIONS = ("findtime", "bantime", "bantime_maxtime")


def name_problem(name):
    """Why `name` cannot be a jail managed as jail.d/<name>.local, or None."""
    if not name or not NAME_RE.match(name) or ".." in name:
        return (f"name: {name!r} is not a usable jail name: use letters, digits, '_', '-' and '.', "
                f"starting with a letter, digit or '_', without '..' (it becomes jail.d/<name>.local)")
    if name in RESERVED_NAMES:
        return f"name: {name!r} is a reserved section name in fail2ban's configuration"
    return None


def time_seconds(value):
    """Seconds in a fail2ban time (3600, '-1', '10m', '1h30m', '1d 12h'); ValueError if it is none."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a time")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    total, position = 0, 0
    for match in TIME_PART_RE.finditer(text):
        unit = match.group(2).lower()
        if match.start() != position or unit not in UNIT_SECONDS:
            break
        total += int(match.group(1)) * UNIT_SECONDS[unit]
        position = match.end()
    if not text or position != len(text):
        raise ValueError(f"{value!r} is not a fail2ban time (seconds, or numbers with units "
                         f"s, m, h, d, w, mo, y such as 10m, 1h30m, 1d)")
    return int(total)


def time_problem(option, value):
    """Why `value` is no good for the time option `option` (findtime, bantime, ...), or None."""
    try:
        seconds = time_seconds(value)
    except ValueError as error:
        return f"{option}: {error}"
    if option == "bantime" and seconds == -1:
        return None  # a permanent ban
    if seconds <= 0:
        allowed = " (or -1 for a permanent ban)" if option == "bantime" else ""
        return f"{option}: {value!r} must be more than 0 seconds{allowed}"
    return None


def _one_line_problem(option, value):
    if value is not None and re.search(r"[\r\n]", str(value)):
        return f"{option}: must be one line, got {value!r}"
    return None


def params_problems(params):
    """Messages, each naming its parameter, for every bad value in the module's parameters."""
    problems = [name_problem(params["name"])]
    problems += [time_problem(option, params[option]) for option in TIME_OPTIONS
                 if params.get(option) is not None]
    if params.get("maxretry") is not None and params["maxretry"] < 1:
        problems.append(f"maxretry: must be 1 or more, got {params['maxretry']}")
    if params.get("bantime_factor") is not None and not params["bantime_factor"] > 0:
        problems.append(f"bantime_factor: must be more than 0, got {params['bantime_factor']}")
    problems += [_one_line_problem(option, params.get(option))
                 for option in ("filter", "port", "backend")]
    for option in ("ignoreip", "logpath"):
        for item in params.get(option) or ():
            if not str(item).strip() or re.search(r"\s", str(item)):
                problems.append(f"{option}: entries must be non-empty and without spaces, got {item!r}")
    return [problem for problem in problems if problem]


def _value(option, value):
    """The text after 'key = ' (continuation lines indented so they stay in the value)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if option == "ignoreip":
        return " ".join(value)
    if option == "logpath":
        return "\n          ".join(value)
    if option == "action":
        lines = [line.strip() for line in str(value).splitlines() if line.strip()]
        return "\n         ".join(lines)
    return str(value).strip()


def render(params):
    """The drop-in's text: a header, then [name] with the options that are set, in a fixed order."""
    lines = [HEADER.format(name=params["name"]), f"[{params['name']}]"]
    for option, key in OPTION_KEYS:
        value = params.get(option)
        if value is None or (option in ("ignoreip", "logpath") and not value):
            continue
        lines.append(f"{key} = {_value(option, value)}".rstrip())
    return "\n".join(lines) + "\n"


def parse_status(text):
    """`fail2ban-client status` (server) or `status <jail>` output as {label: value}.

    Labels are lower case with '_' for spaces ('currently_failed', 'banned_ip_list',
    'jail_list'); values are the text after the label's tab, stripped.
    """
    found = {}
    for line in text.splitlines():
        label, sep, value = line.partition(":")
        if not sep:
            continue
        label = label.lstrip(" |`-").strip().lower().replace(" ", "_")
        if label:
            found[label] = value.strip()
    return found


def _split(value, separator=None):
    return [item.strip() for item in (value or "").split(separator) if item.strip()]


def jail_list(text):
    """Jail names from the server's `status` output."""
    return _split(parse_status(text).get("jail_list"), ",")


def jail_status(text):
    """The counts and lists of a jail's `status <jail>` output."""
    fields = parse_status(text)

    def count(label):
        try:
            return int(fields.get(label, ""))
        except ValueError:
            return None
    return {
        "currently_failed": count("currently_failed"),
        "total_failed": count("total_failed"),
        "currently_banned": count("currently_banned"),
        "total_banned": count("total_banned"),
        "banned_ips": _split(fields.get("banned_ip_list")),
        "file_list": _split(fields.get("file_list")),
    }


def reload_command(name, was_running, present):
    """The fail2ban-client words that bring the daemon in line with the configuration.

    `reload <jail>` only works for a jail the daemon runs that is still in the
    configuration (it stops the jail when the file disables it); a new jail, or one whose
    file is gone, needs a full `reload`, which keeps the other jails and their bans.
    """
    if was_running and present:
        return ["reload", name]
    return ["reload"]
