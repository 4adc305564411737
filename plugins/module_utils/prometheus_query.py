# Copyright: (c) 2026, AdvWell platform engineers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Instant PromQL queries, asked over Prometheus's HTTP API or with promtool inside the
Prometheus container: checking the input, building the requests and the one shell script
that runs a whole batch of promtool queries in a single `docker exec`, and reading the
answers. Plain functions, tested without Prometheus; the module
advwell.platform.prometheus_query does the I/O.
"""
import json
import math
import re
import shlex
from datetime import datetime
from urllib.parse import urlencode

# Prometheus reads `time` as a float first, then as RFC 3339 (Go's RFC3339Nano: an upper-case
# T and Z or a numeric offset). Only what both promtool and the HTTP API accept passes.
EPOCH = re.compile(r"^\d+(\.\d+)?$")
RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")

# Exit statuses of sh when it cannot run the command (not executable / not found).
CANNOT_RUN = (126, 127)


class QueryError(Exception):
    """Prometheus (or promtool) refused or could not answer."""


def normalize_time(value):
    """The evaluation time as Prometheus takes it: epoch seconds (int, float or a decimal
    string) or an RFC 3339 timestamp with a zone (2026-12-06T20:00:00Z). Returns the string
    sent to Prometheus; raises ValueError saying what is wrong."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"must be epoch seconds or an RFC 3339 timestamp, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"epoch seconds must not be negative, got {value}")
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"epoch seconds must be a finite number not below 0, got {value}")
        return f"{value:.3f}".rstrip("0").rstrip(".")
    text = str(value).strip()
    if EPOCH.match(text):
        return text
    match = RFC3339.match(text)
    if not match:
        raise ValueError(f"must be epoch seconds (1796601086 or 1796601086.5) or an RFC 3339 timestamp with a "
                         f"zone (2026-12-06T20:00:00Z, 2026-12-06T21:00:00+01:00), got {text!r}")
    try:
        datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S")
        if match.group(3) != "Z":
            datetime.strptime(match.group(3)[1:], "%H:%M")
    except ValueError:
        raise ValueError(f"{text!r} is not a valid date and time") from None
    return text


def check_query(expression, where):
    if not isinstance(expression, str) or not expression.strip():
        raise ValueError(f"{where}: must be a non-empty PromQL expression, got {expression!r}")
    return expression


def query_items(query=None, time=None, queries=None):
    """The queries to ask, each {"query", "time" (normalized or None), "label", "input"},
    from the module's `query` and `time`, or from `queries` (a list of dicts with `query`,
    an optional `time` and any other keys). Raises ValueError naming the parameter."""
    if queries is None:
        check_query(query, "query")
        try:
            normalized = None if time is None else normalize_time(time)
        except ValueError as error:
            raise ValueError(f"time: {error}") from None
        return [{"query": query, "time": normalized, "label": f"query {query!r}", "input": None}]
    if time is not None:
        raise ValueError("time: applies to `query` only; give each item of `queries` its own time")
    if not queries:
        raise ValueError("queries: must not be empty")
    items = []
    for index, item in enumerate(queries):
        if not isinstance(item, dict):
            raise ValueError(f"queries[{index}]: must be a dict with a key `query`, got {item!r}")
        check_query(item.get("query"), f"queries[{index}].query")
        normalized = None
        if item.get("time") is not None:
            try:
                normalized = normalize_time(item["time"])
            except ValueError as error:
                raise ValueError(f"queries[{index}].time: {error}") from None
        name = f" ({item['name']})" if item.get("name") is not None else ""
        items.append({"query": item["query"], "time": normalized,
                      "label": f"queries[{index}]{name} {item['query']!r}", "input": item})
    return items


def api_query_url(base_url, expression, time=None):
    """The GET URL of an instant query on the HTTP API at base_url (e.g. http://127.0.0.1:9090)."""
    params = [("query", expression)]
    if time is not None:
        params.append(("time", time))
    return f"{base_url.rstrip('/')}/api/v1/query?{urlencode(params)}"


def api_result(body):
    """data.result of an HTTP API answer (the samples of a vector, [ts, "value"] of a scalar).
    Raises QueryError with Prometheus's error ("bad_data: ...") for an error answer, or
    saying the answer is not one of the API's."""
    try:
        answer = json.loads(body)
    except ValueError:
        raise QueryError(f"the answer is not JSON: {shorten(body)}") from None
    if not isinstance(answer, dict) or "status" not in answer:
        raise QueryError(f"the answer is not a Prometheus API answer: {shorten(body)}")
    if answer["status"] != "success":
        kind = answer.get("errorType")
        raise QueryError(f"{kind}: {answer.get('error')}" if kind else str(answer.get("error")))
    data = answer.get("data") or {}
    if "result" not in data:
        raise QueryError(f"the answer has no data.result: {shorten(body)}")
    return data["result"]


def shorten(text, limit=300):
    text = text if isinstance(text, str) else text.decode("utf-8", "replace")
    return text if len(text) <= limit else text[:limit] + "..."


def promtool_argv(promtool, url, expression, time=None):
    """promtool's command line of one instant query, printed as JSON."""
    argv = [promtool, "query", "instant", "-o", "json"]
    if time is not None:
        argv.append(f"--time={time}")
    return argv + [url, expression]


def batch_script(promtool, url, items, boundary):
    """A POSIX sh script that runs promtool once per item and prints, for item i:

        BOUNDARY i stdout
        <promtool's standard output>
        BOUNDARY i stderr RC
        <promtool's standard error>

    and "BOUNDARY end" last, so that one `docker exec -i CONTAINER sh` (the script on its
    standard input) asks every query. Every word is quoted; promtool's standard input is
    /dev/null, so it cannot eat the script. `boundary` must not occur in any output: a
    random hex string.
    """
    lines = ["exec 3>&1"]
    for index, item in enumerate(items):
        command = " ".join(shlex.quote(word) for word in promtool_argv(promtool, url, item["query"], item["time"]))
        lines += [
            f"printf '%s\\n' {shlex.quote(f'{boundary} {index} stdout')}",
            f"e=$({command} 2>&1 >&3 </dev/null)",
            f"printf '\\n%s %s\\n%s\\n' {shlex.quote(f'{boundary} {index} stderr')} \"$?\" \"$e\"",
        ]
    lines.append(f"printf '%s\\n' {shlex.quote(f'{boundary} end')}")
    return "\n".join(lines) + "\n"


def parse_batch_output(text, boundary, count):
    """[(rc, stdout, stderr)] for each of the `count` queries of a batch_script's output.
    Raises QueryError when the output is not complete (the script did not run to its end)."""
    marker = re.compile(rf"^{re.escape(boundary)} (?:(\d+) (stdout|stderr)(?: (\d+))?|(end))$", re.M)
    found = list(marker.finditer(text))
    expected = []
    for index in range(count):
        expected += [(str(index), "stdout"), (str(index), "stderr")]
    expected.append("end")
    seen = [("end" if match.group(4) else (match.group(1), match.group(2))) for match in found]
    if seen != expected:
        done = sum(1 for mark in seen if mark != "end" and mark[1] == "stderr")
        raise QueryError(f"the batch of {count} queries stopped after {done}: {shorten(text)}")
    outcomes = []
    for index in range(count):
        opened, closed, following = found[2 * index], found[2 * index + 1], found[2 * index + 2]
        stdout = text[opened.end() + 1:closed.start()]
        stderr = text[closed.end() + 1:following.start()]
        outcomes.append((int(closed.group(3)), stdout.strip(), stderr.rstrip("\n")))
    return outcomes


def promtool_result(rc, stdout, stderr):
    """The parsed answer of one promtool query; QueryError with promtool's error otherwise."""
    if rc != 0:
        raise QueryError(stderr.strip() or stdout.strip() or f"promtool exited with {rc} and printed nothing")
    try:
        return json.loads(stdout)
    except ValueError:
        raise QueryError(f"promtool printed no JSON: {shorten(stdout)}") from None


def failure_message(failures):
    """One message for failed queries [(label, error)]: queries with the same error share it."""
    grouped = {}
    for label, error in failures:
        grouped.setdefault(error, []).append(label)
    parts = [f"{', '.join(labels)}: {error}" for error, labels in grouped.items()]
    count = len(failures)
    return f"{count} {'query' if count == 1 else 'queries'} failed: " + "; ".join(parts)
