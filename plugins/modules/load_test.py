#!/usr/bin/python
# Copyright: (c) 2026, AdvWell platform engineers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sends HTTP load to one URL: an open-loop rate sweep, or a closed-loop run."""

DOCUMENTATION = r"""
---
module: load_test
short_description: Open-loop rate sweep or closed-loop run against one HTTP URL
version_added: 0.1.0
description:
  - Sends C(GET) requests to O(url) and nowhere else, and measures their latency in an HDR
    histogram (p50, p90, p99, p99.9, max) with the errors by kind (C(http_503), C(timeout),
    C(connect), C(dropped) ...).
  - O(mode=open) runs a rate sweep. Each of O(rates) is held for O(step_seconds), requests
    start on a fixed schedule whatever the server does, and each latency counts from the
    time the request was due, so a stalled server shows in the percentiles (coordinated
    omission corrected). At most O(max_in_flight) requests are outstanding; one due beyond
    that is not sent and counts as C(dropped). The sweep stops after the first step whose
    error share exceeds O(max_error_ratio) or whose p99 exceeds O(max_p99_ms).
  - With O(slo_p99_ms), O(refine_steps) more steps follow, at rates evenly spaced (by ratio)
    between the highest step served within the objective and the lowest step above it that
    was not, so the knee is measured closer than the sweep's own spacing.
  - O(mode=closed) runs O(concurrency) clients back to back, for O(requests) in all or for
    O(seconds), the classic load test (the seed's 5,000 requests at concurrency 200).
    Its latencies count from each send, so it under-reports stalls; it is here to be set
    beside the open-loop reading, and to measure the generator's own ceiling against a
    trivial URL.
  - Runs where it is called. Phase 7 runs it on the controller, delegated to C(localhost).
  - Why a module? k6 and wrk2 cannot be installed here, and neither C(ansible.builtin.uri)
    nor ApacheBench (closed loop only) holds a schedule or corrects coordinated omission.
author:
  - AdvWell platform engineers (!UNKNOWN)
requirements:
  - aiohttp
  - hdrhistogram (HdrHistogram_py)
options:
  url:
    description: The only URL requests go to (C(http) or C(https)).
    type: str
    required: true
  mode:
    description: C(open) for a rate sweep, C(closed) for fixed concurrency.
    type: str
    choices: [open, closed]
    default: open
  rates:
    description: Requests per second of each open-loop step, rising. Required with O(mode=open).
    type: list
    elements: float
  step_seconds:
    description: How long each open-loop step lasts.
    type: float
    default: 30
  warmup_seconds:
    description: An unrecorded open-loop run at the first rate before the sweep (connections opened, caches warm).
    type: float
    default: 0
  concurrency:
    description: Clients of a closed-loop run.
    type: int
    default: 200
  requests:
    description: Requests of a closed-loop run in all. Give this or O(seconds).
    type: int
  seconds:
    description: How long a closed-loop run lasts. Give this or O(requests).
    type: float
  max_in_flight:
    description: Most requests outstanding at once (also the connection limit).
    type: int
    default: 512
  timeout:
    description: Seconds a request may take before it counts as a C(timeout) error.
    type: float
    default: 10
  max_error_ratio:
    description: The sweep stops after a step with a larger share of errors.
    type: float
    default: 0.01
  max_p99_ms:
    description: The sweep stops after a step whose p99 latency is above this.
    type: float
    default: 2000
  slo_p99_ms:
    description:
      - The p99 objective a step is served within, with errors within O(max_error_ratio) and
        95% of its rate achieved. Needed for O(refine_steps).
    type: float
  refine_steps:
    description: Steps to run between the last step within O(slo_p99_ms) and the next one, after the sweep.
    type: int
    default: 0
  max_rate:
    description: Refuse any rate above this (a bound against a typo that floods a server).
    type: float
    default: 2000
  max_seconds:
    description:
      - Refuse a run planned to last longer than this (warm-up, steps and refining steps, or a
        closed run's O(seconds)).
    type: float
    default: 900
  validate_certs:
    description: Verify the server's TLS certificate.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Sends nothing; returns the planned steps and their duration.
  diff_mode:
    support: none
    description: Sends requests and writes nothing, so there is nothing to show as a diff.
notes:
  - Never C(changed), since the load changes no configuration.
  - A closed-loop run of O(requests) has no time bound of its own beyond O(timeout) per request.
"""

EXAMPLES = r"""
- name: The generator's own ceiling, against the edge's static page
  advwell.platform.load_test:
    url: http://172.30.57.10:8080/
    mode: closed
    concurrency: 64
    seconds: 5
  delegate_to: localhost
  register: ceiling

- name: A rate sweep against the API, the knee measured closer with two more steps
  advwell.platform.load_test:
    url: http://172.30.57.10:8080/api/companies/1/clients
    rates: [20, 40, 60, 80, 100]
    step_seconds: 30
    warmup_seconds: 5
    slo_p99_ms: 500
    refine_steps: 2
  delegate_to: localhost
  register: sweep

- name: The seed's own test, 5,000 requests at concurrency 200
  advwell.platform.load_test:
    url: http://172.30.57.10:8080/api/companies/1/clients
    mode: closed
    requests: 5000
    concurrency: 200
  delegate_to: localhost
"""

RETURN = r"""
steps:
  description: One result per run step (a closed run has one). Each has C(mode), C(offered_rps)
    (open) or C(concurrency) (closed), C(sent), C(ok), C(errors) (count by kind),
    C(error_ratio), C(throughput_rps) (good answers that arrived inside the step, per second),
    C(latency_ms) (C(p50), C(p90), C(p99), C(p999), C(max), C(mean); null when nothing
    answered), C(seconds), C(started_at) and C(ended_at) (Unix time). Ordered by offered
    rate; a refining step (O(refine_steps)) has C(refined=true).
  returned: success, not in check mode
  type: list
  elements: dict
warmup:
  description: The warm-up's result, shaped like a step (null without a warm-up). Its requests
    reached the server too, which matters when counting what the server did.
  returned: success, not in check mode
  type: dict
stopped_because:
  description: Why the sweep ended before its last rate, or null (refining steps do not set it).
  returned: success, not in check mode
  type: str
planned:
  description: The rates (or the closed run) and the seconds the run is planned to take.
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.six.moves.urllib.parse import urlsplit

from ansible_collections.advwell.platform.plugins.module_utils import loadgen


def planned_run(params):
    """The run's plan, or a message naming the parameter that makes it invalid."""
    parts = urlsplit(params["url"])
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None, f"url: must be an http:// or https:// URL with a host, got {params['url']!r}"
    for name in ("timeout", "max_rate", "max_seconds", "max_p99_ms"):
        if params[name] <= 0:
            return None, f"{name}: must be above 0, got {params[name]}"
    if params["max_in_flight"] < 1:
        return None, f"max_in_flight: must be at least 1, got {params['max_in_flight']}"
    if not 0 <= params["max_error_ratio"] <= 1:
        return None, f"max_error_ratio: must be between 0 and 1, got {params['max_error_ratio']}"
    if params["mode"] == "open":
        rates = params["rates"] or []
        if not rates:
            return None, "rates: required with mode=open"
        bad = [rate for rate in rates if rate <= 0]
        if bad:
            return None, f"rates: every rate must be above 0, got {bad[0]}"
        if max(rates) > params["max_rate"]:
            return None, f"rates: {max(rates)} req/s is above max_rate {params['max_rate']}"
        if params["step_seconds"] <= 0 or params["warmup_seconds"] < 0:
            return None, "step_seconds: must be above 0 (and warmup_seconds 0 or more)"
        if params["slo_p99_ms"] is not None and params["slo_p99_ms"] <= 0:
            return None, f"slo_p99_ms: must be above 0, got {params['slo_p99_ms']}"
        if params["refine_steps"] < 0 or (params["refine_steps"] and params["slo_p99_ms"] is None):
            return None, (f"refine_steps: must be 0 or more, and needs slo_p99_ms, "
                          f"got {params['refine_steps']}")
        steps = len(rates) + params["refine_steps"]
        seconds = params["warmup_seconds"] + params["step_seconds"] * steps
        if seconds > params["max_seconds"]:
            return None, (f"rates: {steps} steps of {params['step_seconds']:g} s take "
                          f"{seconds:g} s, above max_seconds {params['max_seconds']:g}")
        return dict(mode="open", rates=rates, refine_steps=params["refine_steps"], seconds=seconds,
                    requests=int(sum(rate * params["step_seconds"] for rate in rates))), None
    if params["concurrency"] < 1:
        return None, f"concurrency: must be at least 1, got {params['concurrency']}"
    if (params["requests"] is None) == (params["seconds"] is None):
        return None, "requests: give either requests or seconds for mode=closed"
    if params["requests"] is not None and params["requests"] < 1:
        return None, f"requests: must be at least 1, got {params['requests']}"
    if params["seconds"] is not None and not 0 < params["seconds"] <= params["max_seconds"]:
        return None, f"seconds: must be above 0 and at most max_seconds {params['max_seconds']:g}"
    return dict(mode="closed", concurrency=params["concurrency"], requests=params["requests"],
                seconds=params["seconds"]), None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str", required=True),
            mode=dict(type="str", choices=["open", "closed"], default="open"),
            rates=dict(type="list", elements="float"),
            step_seconds=dict(type="float", default=30),
            warmup_seconds=dict(type="float", default=0),
            concurrency=dict(type="int", default=200),
            requests=dict(type="int"),
            seconds=dict(type="float"),
            max_in_flight=dict(type="int", default=512),
            timeout=dict(type="float", default=10),
            max_error_ratio=dict(type="float", default=0.01),
            max_p99_ms=dict(type="float", default=2000),
            slo_p99_ms=dict(type="float"),
            refine_steps=dict(type="int", default=0),
            max_rate=dict(type="float", default=2000),
            max_seconds=dict(type="float", default=900),
            validate_certs=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    for present, library in ((loadgen.HAS_AIOHTTP, "aiohttp"), (loadgen.HAS_HDRH, "hdrhistogram")):
        if not present:
            module.fail_json(msg=missing_required_lib(library))
    params = module.params
    plan, problem = planned_run(params)
    if problem:
        module.fail_json(msg=problem)
    if module.check_mode:
        module.exit_json(changed=False, planned=plan)

    if plan["mode"] == "open":
        def work(session):
            return loadgen.sweep(session, params["url"], plan["rates"], params["step_seconds"],
                                 params["max_in_flight"], params["max_error_ratio"],
                                 params["max_p99_ms"], params["warmup_seconds"],
                                 params["slo_p99_ms"], params["refine_steps"])
        steps, reason, warmup = loadgen.run(work, params["max_in_flight"], params["timeout"],
                                            params["validate_certs"])
    else:
        def work(session):
            return loadgen.closed_loop(session, params["url"], params["concurrency"],
                                       params["requests"], params["seconds"])
        limit = max(params["max_in_flight"], params["concurrency"])
        steps, reason, warmup = [loadgen.run(work, limit, params["timeout"],
                                             params["validate_certs"])], None, None
    module.exit_json(changed=False, planned=plan, steps=steps, stopped_because=reason,
                     warmup=warmup)


if __name__ == "__main__":
    main()
