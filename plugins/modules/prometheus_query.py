#!/usr/bin/python
# Copyright: (c) 2026, AdvWell platform engineers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Asks Prometheus instant PromQL queries, over its HTTP API or with promtool in its Swarm task."""

DOCUMENTATION = r"""
---
module: prometheus_query
short_description: Ask Prometheus instant PromQL queries, over its HTTP API or with promtool inside its Swarm task
version_added: 0.1.0
description:
  - Evaluates one PromQL expression (O(query), at O(time) or now) or a batch of them
    (O(queries)) as instant queries and returns Prometheus's answers, parsed.
  - Reaches Prometheus in one of two ways. O(url) is the base URL of its HTTP API as the
    managed host reaches it; each query is a C(GET /api/v1/query). O(service) is the Swarm
    service running Prometheus, for a Prometheus that is not published. The module finds the
    service's running task on the host it runs on and runs Prometheus's own C(promtool query
    instant -o json) inside that task's container (the upstream image has no curl), asking
    O(promtool_url) from there.
  - With O(service), a whole batch is asked in a single C(docker exec) (a POSIX C(sh) script on
    its standard input that runs promtool once per query), not one exec per query. Finding the
    task and the exec are those of M(advwell.platform.swarm_task_exec) (the same code).
  - Reads only; never changed, and runs the same in check mode.
  - Fails, naming the query (its index and C(name) in O(queries)) and Prometheus's error, when
    Prometheus rejects a query (bad PromQL, a bad time). A batch is asked to its end first, so
    the message names every query that failed. Fails as clearly when Prometheus does not answer,
    when the service has no running task on this node, or when promtool cannot be run.
author:
  - AdvWell platform engineers (!UNKNOWN)
extends_documentation_fragment:
  - community.docker.docker.api_documentation
options:
  query:
    description:
      - One PromQL expression, for example V(up) or V(node_load1 > 4).
      - Exactly one of O(query) and O(queries) is required.
    type: str
  time:
    description:
      - When to evaluate O(query) (only with O(query)); default now, as Prometheus sees it.
      - Epoch seconds (V(1796601086), V(1796601086.5), as a number or a string) or an RFC 3339
        timestamp with a zone (V(2026-12-06T20:00:00Z), V(2026-12-06T21:00:00+01:00)).
    type: raw
  queries:
    description:
      - Many queries in one call. Each item is a dict with the key C(query) (the expression),
        optionally C(time) (as O(time)), and any other keys, for example C(name) or C(step),
        which are given back untouched in RV(results) beside the item's C(result).
    type: list
    elements: dict
  url:
    description:
      - Base URL of Prometheus's HTTP API as the managed host reaches it, for example
        V(http://127.0.0.1:9090). HTTPS certificates are verified against the host's trusted CAs.
      - Exactly one of O(url) and O(service) is required.
    type: str
  service:
    description:
      - Name of the Swarm service running Prometheus, for example V(monitoring_prometheus). The
        module must run on a host where one of its tasks runs (the lowest slot is used).
      - The container must have a POSIX C(sh) (the upstream image's busybox has one) and
        O(promtool).
    type: str
  promtool:
    description:
      - Path (or name on the container's C(PATH)) of promtool inside the Prometheus container,
        with O(service).
    type: str
    default: promtool
  promtool_url:
    description:
      - The address promtool asks inside the container, with O(service). That is Prometheus's
        own listen address as seen from its container.
    type: str
    default: http://localhost:9090
  timeout:
    description:
      - With O(url), seconds to wait for each HTTP answer of Prometheus.
      - With O(service), seconds to wait for each answer of the Docker API; also how long the
        whole batch of promtool queries may run.
      - If the value is not specified in the task, the value of environment variable
        E(DOCKER_TIMEOUT) is used instead; if that is not set either, the default is 60.
notes:
  - With O(url), only Python's standard library is used (the Docker options are then ignored
    and Docker is not contacted). With O(service), the module uses community.docker's Docker
    API client, which needs the Python library C(requests) on the managed host but not the
    Docker SDK for Python.
  - Both ways give the same C(result) for vector, matrix and scalar answers. A query whose
    answer is a string (a bare string literal) works with O(url) only; promtool cannot print one.
attributes:
  check_mode:
    support: full
    description: Reads only; runs the same in check mode.
  diff_mode:
    support: none
    description: Only reads, so there is nothing to show as a diff.
seealso:
  - module: advwell.platform.swarm_task_exec
    description: Runs any command in a Swarm service's task on this node.
  - name: Prometheus HTTP API, instant queries
    description: What an instant query returns.
    link: https://prometheus.io/docs/prometheus/latest/querying/api/#instant-queries
"""

EXAMPLES = r"""
- name: Ask the Prometheus task on this node (not published) which targets are up
  advwell.platform.prometheus_query:
    service: monitoring_prometheus
    query: up
  register: up

- name: Fail when a target is down
  ansible.builtin.assert:
    that: up.result | rejectattr('value.1', 'equalto', '1') | list | length == 0
    fail_msg: "down: {{ up.result | rejectattr('value.1', 'equalto', '1') | map(attribute='metric.instance') | list }}"

- name: Ask a published Prometheus for the firing alerts an hour ago
  advwell.platform.prometheus_query:
    url: http://127.0.0.1:9090
    query: 'ALERTS{alertstate="firing"}'
    time: "{{ ansible_date_time.epoch | int - 3600 }}"

- name: Read every step of a sweep in one exec
  advwell.platform.prometheus_query:
    service: monitoring_prometheus
    queries:
      - {step: 0, name: load1, query: node_load1, time: 1796601086}
      - {step: 1, name: load1, query: node_load1, time: 1796601146}
      - {step: 1, name: memory_used_bytes, query: node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes,
         time: 1796601146}
  register: readings

- name: Show the load of each step
  ansible.builtin.debug:
    msg: "{{ readings.results | selectattr('name', 'equalto', 'load1') | map(attribute='result') | list }}"
"""

RETURN = r"""
result:
  description:
    - Prometheus's answer to O(query) (C(data.result) of the HTTP API).
    - For a vector, the list of samples, each with C(metric) (the labels) and C(value)
      (C([epoch seconds, "value as a string"])); an empty list when nothing matched.
    - For a scalar, C([epoch seconds, "value"]); for a range vector (matrix), samples with
      C(values) instead of C(value).
  returned: with O(query)
  type: raw
  sample: [{metric: {__name__: up, instance: "localhost:9090", job: prometheus}, value: [1796601089.172, "1"]}]
results:
  description: The items of O(queries) in their order, each as given with its C(result) added
    (the answer, as RV(result); a key C(result) of the item is replaced).
  returned: with O(queries)
  type: list
  elements: dict
  sample:
    - {step: 0, name: load1, query: node_load1, time: 1796601086,
       result: [{metric: {__name__: node_load1, instance: "app-vps:9100", job: node}, value: [1796601086, "0.52"]}]}
container:
  description: ID of the container promtool ran in.
  returned: with O(service), when its task was found
  type: str
  sample: 4f0c3d2e9a1b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d
"""

import uuid

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.urls import open_url

from ansible_collections.advwell.platform.plugins.module_utils.prometheus_query import (
    CANNOT_RUN, QueryError, api_query_url, api_result, batch_script, failure_message, parse_batch_output,
    promtool_result, query_items, shorten)
from ansible_collections.advwell.platform.plugins.module_utils.swarm_task_exec import (
    ModuleDockerClient, SwarmTasks, TaskExecError, command_text, docker_argument_spec, docker_required_together)


def ask_api(module, items):
    """Each item's answer over the HTTP API at `url`, one GET per item. A query Prometheus
    rejects does not stop the others, so that the failure names every rejected query."""
    url = module.params["url"]
    answers, failures = [], []
    for item in items:
        try:
            response = open_url(api_query_url(url, item["query"], item["time"]), method="GET",
                                timeout=module.params["timeout"], validate_certs=True)
            body = response.read()
        except HTTPError as error:
            # Prometheus answers a rejected query with 400 or 422 and its error as JSON.
            body = error.read() if error.fp is not None else b""
            try:
                api_result(body)
            except QueryError as rejected:
                failures.append((item["label"], str(rejected)))
                continue
            module.fail_json(msg=f"Prometheus at {url} answered {error.code} {error.reason} to {item['label']}: "
                                 f"{shorten(to_text(body))}")
        except (URLError, OSError) as error:
            module.fail_json(msg=f"cannot reach Prometheus at {url}: {getattr(error, 'reason', error)}")
        try:
            answers.append(api_result(body))
        except QueryError as error:
            failures.append((item["label"], str(error)))
    if failures:
        module.fail_json(msg=failure_message(failures))
    return answers


def ask_promtool(module, items):
    """Each item's answer from promtool in the service's task, all in one exec."""
    params = module.params
    service = params["service"]
    tasks = SwarmTasks(ModuleDockerClient(module), params["timeout"])
    boundary = uuid.uuid4().hex
    try:
        running = tasks.running(service)
    except TaskExecError as error:
        module.fail_json(msg=str(error))
    if not running:
        module.fail_json(msg=f"service {service} has no running task on this node (no running container "
                             f"labelled com.docker.swarm.service.name={service}): cannot ask its Prometheus")
    task = running[0]
    script = batch_script(params["promtool"], params["promtool_url"], items, boundary)
    try:
        rc, stdout, stderr = tasks.exec(task, ["sh"], script)
    except TaskExecError as error:
        module.fail_json(msg=str(error), container=task["container"])
    where = {"container": task["container"]}
    try:
        outcomes = parse_batch_output(command_text(stdout), boundary, len(items))
    except QueryError as error:
        module.fail_json(msg=f"the queries did not run in task {task['task']} (sh exited with {rc}): {error} "
                             f"{shorten(command_text(stderr))}", **where)
    cannot_run = [outcome for outcome in outcomes if outcome[0] in CANNOT_RUN]
    if cannot_run:
        module.fail_json(msg=f"cannot run {params['promtool']} in task {task['task']} (option promtool): "
                             f"{cannot_run[0][2]}", **where)
    answers, failures = [], []
    for item, (query_rc, query_stdout, query_stderr) in zip(items, outcomes):
        try:
            answers.append(promtool_result(query_rc, query_stdout, query_stderr))
        except QueryError as error:
            failures.append((item["label"], str(error)))
    if failures:
        module.fail_json(msg=failure_message(failures), **where)
    return answers, where


def main():
    module = AnsibleModule(
        argument_spec=docker_argument_spec(
            query=dict(type="str"),
            time=dict(type="raw"),
            queries=dict(type="list", elements="dict"),
            url=dict(type="str"),
            service=dict(type="str"),
            promtool=dict(type="str", default="promtool"),
            promtool_url=dict(type="str", default="http://localhost:9090"),
        ),
        mutually_exclusive=[("query", "queries"), ("url", "service")],
        required_one_of=[("query", "queries"), ("url", "service")],
        required_together=docker_required_together(),
        supports_check_mode=True,
    )
    params = module.params
    try:
        items = query_items(params["query"], params["time"], params["queries"])
    except ValueError as error:
        module.fail_json(msg=str(error))
    if params["url"] is not None and not params["url"].startswith(("http://", "https://")):
        module.fail_json(msg=f"url: must be an http:// or https:// URL, got {params['url']!r}")
    if params["service"] is not None and not params["promtool_url"].startswith(("http://", "https://")):
        module.fail_json(msg=f"promtool_url: must be an http:// or https:// URL, got {params['promtool_url']!r}")
    if params["service"] is not None and not params["service"].strip():
        module.fail_json(msg="service: must not be empty")
    if not params["promtool"].strip():
        module.fail_json(msg="promtool: must not be empty")
    if params["timeout"] <= 0:
        module.fail_json(msg=f"timeout: must be more than 0 seconds, got {params['timeout']}")

    extra = {}
    if params["url"] is not None:
        answers = ask_api(module, items)
    else:
        answers, extra = ask_promtool(module, items)
    if params["queries"] is None:
        module.exit_json(changed=False, result=answers[0], **extra)
    module.exit_json(changed=False, results=[dict(item["input"], result=answer) for item, answer in zip(items, answers)],
                     **extra)


if __name__ == "__main__":
    main()
