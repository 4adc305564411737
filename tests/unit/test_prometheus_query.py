"""advwell.platform.prometheus_query's logic: checking the input, the HTTP API's requests and
answers, and the batch script that asks many promtool queries in one exec (run here with the
machine's sh and a stand-in promtool, so its quoting and framing are proven, not just read)."""
import json
import os
import stat
import subprocess
from urllib.parse import parse_qs, urlsplit

import pytest

from ansible_collections.advwell.platform.plugins.module_utils.prometheus_query import (
    QueryError, api_query_url, api_result, batch_script, failure_message, normalize_time, parse_batch_output,
    promtool_argv, promtool_result, query_items)

BOUNDARY = "5f0c1a9e3b7d4e2f8a6c0b1d2e3f4a5b"


class TestNormalizeTime:
    @pytest.mark.parametrize("given, expected", [
        (1796601086, "1796601086"),
        (0, "0"),
        (1796601086.5, "1796601086.5"),
        (1796601086.0, "1796601086"),
        (1796601086.123456, "1796601086.123"),
        ("1796601086", "1796601086"),
        (" 1796601086.25 ", "1796601086.25"),
        ("2026-12-06T20:00:00Z", "2026-12-06T20:00:00Z"),
        ("2026-12-06T20:00:00.123456789Z", "2026-12-06T20:00:00.123456789Z"),
        ("2026-12-06T21:00:00+01:00", "2026-12-06T21:00:00+01:00"),
        ("2026-12-06T15:00:00-05:00", "2026-12-06T15:00:00-05:00"),
    ])
    def test_accepted(self, given, expected):
        assert normalize_time(given) == expected

    @pytest.mark.parametrize("given, says", [
        (True, "must be epoch seconds or an RFC 3339 timestamp, got True"),
        (None, "got None"),
        (-5, "must not be negative"),
        (float("nan"), "finite number"),
        (float("inf"), "finite number"),
        ("-5", "got '-5'"),
        ("1e9", "got '1e9'"),
        ("now", "got 'now'"),
        ("2026-12-06 20:00:00Z", "RFC 3339 timestamp with a zone"),
        ("2026-12-06T20:00:00", "RFC 3339 timestamp with a zone"),
        ("2026-12-06t20:00:00z", "RFC 3339"),
        ("2026-13-06T20:00:00Z", "'2026-13-06T20:00:00Z' is not a valid date and time"),
        ("2026-02-30T20:00:00Z", "is not a valid date and time"),
        ("2026-12-06T20:00:00+25:00", "is not a valid date and time"),
        ("", "got ''"),
    ])
    def test_rejected(self, given, says):
        with pytest.raises(ValueError, match=says.replace("+", r"\+").replace("(", r"\(")):
            normalize_time(given)


class TestQueryItems:
    def test_one_query(self):
        assert query_items("up", 1796601086) == [
            {"query": "up", "time": "1796601086", "label": "query 'up'", "input": None}]
        assert query_items("up")[0]["time"] is None

    def test_queries_keep_every_key_and_get_labels(self):
        given = [{"query": "node_load1", "time": "2026-12-06T20:00:00Z", "name": "load1", "step": 0},
                 {"query": "up", "step": None}]
        items = query_items(queries=given)
        assert [(item["query"], item["time"], item["label"]) for item in items] == [
            ("node_load1", "2026-12-06T20:00:00Z", "queries[0] (load1) 'node_load1'"),
            ("up", None, "queries[1] 'up'")]
        assert items[0]["input"] is given[0] and given[0] == {
            "query": "node_load1", "time": "2026-12-06T20:00:00Z", "name": "load1", "step": 0}

    @pytest.mark.parametrize("args, says", [
        (dict(query=""), "query: must be a non-empty PromQL expression, got ''"),
        (dict(query="  "), "query: must be a non-empty PromQL expression"),
        (dict(query="up", time="yesterday"), "time: must be epoch seconds"),
        (dict(queries=[]), "queries: must not be empty"),
        (dict(queries=[{"query": "up"}], time=5), "time: applies to `query` only"),
        (dict(queries=[{"query": "up"}, "up"]), r"queries\[1\]: must be a dict with a key `query`, got 'up'"),
        (dict(queries=[{"name": "x"}]), r"queries\[0\].query: must be a non-empty PromQL expression, got None"),
        (dict(queries=[{"query": 5}]), r"queries\[0\].query: must be a non-empty PromQL expression, got 5"),
        (dict(queries=[{"query": "up"}, {"query": "up", "time": "soon"}]), r"queries\[1\].time: must be epoch"),
    ])
    def test_rejected_naming_the_parameter(self, args, says):
        with pytest.raises(ValueError, match=says):
            query_items(**args)


class TestHttpApi:
    def test_query_url(self):
        url = api_query_url("http://127.0.0.1:9090/", 'sum by (job) (up{job=~"a|b"})', "1796601086.5")
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc, parts.path) == ("http", "127.0.0.1:9090", "/api/v1/query")
        assert parse_qs(parts.query) == {"query": ['sum by (job) (up{job=~"a|b"})'], "time": ["1796601086.5"]}
        assert api_query_url("https://prom.example/prefix", "up") == "https://prom.example/prefix/api/v1/query?query=up"

    def test_vector_and_scalar_answers(self):
        sample = {"metric": {"__name__": "up", "instance": "127.0.0.1:9090", "job": "prometheus"},
                  "value": [1796601090.456, "1"]}
        assert api_result(json.dumps({"status": "success", "data": {"resultType": "vector", "result": [sample]}})) == [sample]
        assert api_result(b'{"status":"success","data":{"resultType":"scalar","result":[1796601090.615,"1"]}}') \
            == [1796601090.615, "1"]

    @pytest.mark.parametrize("body, says", [
        ('{"status":"error","errorType":"bad_data","error":"invalid parameter \\"query\\": 1:4: parse error"}',
         'bad_data: invalid parameter "query": 1:4: parse error'),
        ('{"status":"error","error":"something"}', "something"),
        ("<html>bad gateway</html>", "the answer is not JSON: <html>bad gateway</html>"),
        ('["a"]', "not a Prometheus API answer"),
        ('{"status":"success","data":{}}', "has no data.result"),
    ])
    def test_errors(self, body, says):
        with pytest.raises(QueryError) as raised:
            api_result(body)
        assert says in str(raised.value)


class TestPromtool:
    def test_argv(self):
        assert promtool_argv("promtool", "http://localhost:9090", "up") == [
            "promtool", "query", "instant", "-o", "json", "http://localhost:9090", "up"]
        assert promtool_argv("/bin/promtool", "http://localhost:9090", "up", "1796601086") == [
            "/bin/promtool", "query", "instant", "-o", "json", "--time=1796601086", "http://localhost:9090", "up"]

    def test_result(self):
        assert promtool_result(0, '[{"metric":{},"value":[1,"2"]}]', "") == [{"metric": {}, "value": [1, "2"]}]
        with pytest.raises(QueryError, match="query error: bad_data: invalid parameter"):
            promtool_result(1, "", 'query error: bad_data: invalid parameter "query": 1:4: parse error')
        with pytest.raises(QueryError, match="promtool printed no JSON: hello"):
            promtool_result(0, "hello", "")
        with pytest.raises(QueryError, match="promtool exited with 2 and printed nothing"):
            promtool_result(2, "", "")

    def test_failure_message_groups_queries_with_the_same_error(self):
        assert failure_message([("query 'up{'", "parse error")]) == "1 query failed: query 'up{': parse error"
        assert failure_message([("queries[0] 'a'", "refused"), ("queries[1] 'b('", "parse"), ("queries[2] 'c'", "refused")]) \
            == "3 queries failed: queries[0] 'a', queries[2] 'c': refused; queries[1] 'b(': parse"


# A stand-in promtool: prints its arguments as a JSON list, or fails on an expression that
# contains "bad" (with an error on stderr), or prints nothing when it contains "empty".
FAKE_PROMTOOL = r"""#!/bin/sh
last=""; for word in "$@"; do last=$word; done
case "$last" in
  *bad*) echo "query error: bad_data: cannot parse $last" >&2; exit 1 ;;
  *empty*) exit 0 ;;
esac
python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "$@"
printf 'unterminated'
"""


@pytest.fixture
def fake_promtool(tmp_path):
    path = tmp_path / "promtool"
    path.write_text(FAKE_PROMTOOL)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def run_script(script):
    run = subprocess.run(["sh"], input=script, capture_output=True, text=True, check=True, timeout=30,
                         env={"PATH": os.environ["PATH"]})
    return run.stdout


class TestBatch:
    def test_script_quotes_every_word(self):
        items = query_items(queries=[{"query": "up{job='it''s'}", "time": 1796601086}])
        script = batch_script("/bin/promtool", "http://localhost:9090", items, BOUNDARY)
        assert script.splitlines() == [
            "exec 3>&1",
            f"printf '%s\\n' '{BOUNDARY} 0 stdout'",
            "e=$(/bin/promtool query instant -o json --time=1796601086 http://localhost:9090 "
            "'up{job='\"'\"'it'\"'\"''\"'\"'s'\"'\"'}' 2>&1 >&3 </dev/null)",
            f"printf '\\n%s %s\\n%s\\n' '{BOUNDARY} 0 stderr' \"$?\" \"$e\"",
            f"printf '%s\\n' '{BOUNDARY} end'",
        ]

    def test_round_trip_through_sh(self, fake_promtool):
        expressions = ["up", "bad{", 'sum(rate(x[5m])) and on() vector(1) $(touch /nonexistent) `id` "q" \'s\'',
                       "empty", "multi\nline"]
        items = query_items(queries=[{"query": expression, "time": 1796601086 + index}
                                     for index, expression in enumerate(expressions)])
        output = run_script(batch_script(fake_promtool, "http://localhost:9090", items, BOUNDARY))
        outcomes = parse_batch_output(output.rstrip("\n"), BOUNDARY, len(items))
        assert len(outcomes) == 5
        assert outcomes[1] == (1, "", "query error: bad_data: cannot parse bad{")
        assert outcomes[3] == (0, "", "")
        for index in (0, 2, 4):
            rc, stdout, stderr = outcomes[index]
            assert (rc, stderr) == (0, "")
            printed, rest = stdout.split("\n")
            assert rest == "unterminated", "output without a final newline stays apart from the marker"
            assert json.loads(printed) == ["query", "instant", "-o", "json", f"--time={1796601086 + index}",
                                           "http://localhost:9090", expressions[index]]

    def test_promtool_that_cannot_run(self, tmp_path):
        items = query_items(queries=[{"query": "up"}, {"query": "down"}])
        output = run_script(batch_script(str(tmp_path / "no-promtool"), "http://localhost:9090", items, BOUNDARY))
        outcomes = parse_batch_output(output, BOUNDARY, 2)
        assert [outcome[0] for outcome in outcomes] == [127, 127]
        assert "no-promtool" in outcomes[0][2]

    def test_incomplete_output_is_an_error(self):
        text = f"{BOUNDARY} 0 stdout\n[]\n\n{BOUNDARY} 0 stderr 0\n\n{BOUNDARY} 1 stdout\n"
        with pytest.raises(QueryError, match="the batch of 2 queries stopped after 1"):
            parse_batch_output(text, BOUNDARY, 2)
        with pytest.raises(QueryError, match="stopped after 0"):
            parse_batch_output("sh: 1: cannot open", BOUNDARY, 1)

    def test_markers_must_be_whole_lines_of_this_boundary(self):
        text = (f"{BOUNDARY} 0 stdout\nx {BOUNDARY} 0 stderr 0\n{'0' * 32} 0 stderr 0\n"
                f"\n{BOUNDARY} 0 stderr 0\n\n{BOUNDARY} end")
        assert parse_batch_output(text, BOUNDARY, 1) == [(0, f"x {BOUNDARY} 0 stderr 0\n{'0' * 32} 0 stderr 0", "")]
