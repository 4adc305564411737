#!/usr/bin/python
# Copyright: (c) 2026, AdvWell platform engineers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Draws a rate sweep (latency percentiles and errors against offered rate) as a PNG."""

DOCUMENTATION = r"""
---
module: capacity_plot
short_description: PNG of a load sweep's latency percentiles and errors, with the model's ceiling and knee
version_added: 0.1.0
description:
  - Draws the steps of an P(advwell.platform.load_test#module) sweep on two panels, p50, p90,
    p99 and p99.9 latency (log scale) and the achieved throughput against the offered rate,
    with the capacity model's ceiling and knee as vertical lines, and the error share of each step.
  - Writes O(dest) through a temporary file renamed into place, only when the image differs
    from what is there, so C(changed) means a new picture.
  - Phase 7 writes it beside C(capacity.json) and the Markdown report, on the controller.
  - Why a module? Ansible has no plotting. This draws with matplotlib's Agg backend, with
    no timestamp in the file, so the same data gives the same bytes.
author:
  - AdvWell platform engineers (!UNKNOWN)
requirements:
  - matplotlib
options:
  dest:
    description: Where the PNG goes.
    type: path
    required: true
  steps:
    description: The sweep's steps as C(load_test) returns them (C(offered_rps), C(throughput_rps),
      C(error_ratio), C(latency_ms)).
    type: list
    elements: dict
    required: true
  ceiling_rps:
    description: The capacity model's ceiling, drawn as a vertical line (omit for none).
    type: float
  knee_rps:
    description: The capacity model's knee (the highest rate within the p99 objective), drawn as a vertical line (omit for none).
    type: float
  slo_ms:
    description: The p99 objective, drawn as a horizontal line (omit for none).
    type: float
  title:
    description: The figure's title.
    type: str
    default: Capacity sweep
  mode:
    description: The file's permissions.
    type: str
    default: "0644"
attributes:
  check_mode:
    support: full
    description: Draws in memory and reports whether the file would change; writes nothing.
  diff_mode:
    support: none
    description: The PNG is not shown as a diff; C(changed) says whether the file's bytes differ.
"""

EXAMPLES = r"""
- name: Plot the sweep
  advwell.platform.capacity_plot:
    dest: "{{ inventory_dir }}/reports/capacity.png"
    steps: "{{ sweep.steps }}"
    ceiling_rps: "{{ model.ceiling_rps }}"
    knee_rps: "{{ model.knee_rps }}"
    slo_ms: 500
  delegate_to: localhost
"""

RETURN = r"""
dest:
  description: The file written.
  returned: always
  type: str
bytes:
  description: Size of the image.
  returned: success
  type: int
"""

import io
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot
    HAS_MATPLOTLIB = True
except ImportError:
    HAS_MATPLOTLIB = False

PERCENTILES = (("p50", "p50"), ("p90", "p90"), ("p99", "p99"), ("p999", "p99.9"))


def render(steps, ceiling_rps, slo_ms, title, knee_rps=None):
    """The PNG's bytes."""
    offered = [step["offered_rps"] for step in steps]
    figure, (latency, errors) = pyplot.subplots(
        2, 1, figsize=(8, 7), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    for key, label in PERCENTILES:
        points = [(rate, step["latency_ms"].get(key)) for rate, step in zip(offered, steps)
                  if step["latency_ms"].get(key)]
        if points:
            latency.plot(*zip(*points), marker="o", label=label)
    latency.set_yscale("log")
    latency.set_ylabel("latency (ms)")
    throughput = latency.twinx()
    throughput.plot(offered, [step["throughput_rps"] for step in steps], color="black",
                    linestyle="--", marker="s", label="achieved req/s")
    throughput.set_ylabel("achieved (req/s)")
    if slo_ms:
        latency.axhline(slo_ms, color="grey", linestyle=":", label=f"p99 objective {slo_ms:g} ms")
    for axis in (latency, errors):
        if ceiling_rps:
            axis.axvline(ceiling_rps, color="red", linestyle="-.",
                         label=f"model ceiling {ceiling_rps:.0f} req/s" if axis is latency else None)
        if knee_rps:
            axis.axvline(knee_rps, color="purple", linestyle="--",
                         label=f"model knee {knee_rps:.1f} req/s" if axis is latency else None)
    errors.bar(offered, [100 * step["error_ratio"] for step in steps],
               width=max(offered) * 0.03 if offered else 1, color="tab:red")
    errors.set_ylabel("errors (%)")
    errors.set_xlabel("offered rate (req/s)")
    handles, labels = latency.get_legend_handles_labels()
    more_handles, more_labels = throughput.get_legend_handles_labels()
    latency.legend(handles + more_handles, labels + more_labels, loc="upper left", fontsize="small")
    latency.set_title(title)
    latency.grid(True, which="both", alpha=0.3)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    pyplot.close(figure)
    return buffer.getvalue()


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dest=dict(type="path", required=True),
            steps=dict(type="list", elements="dict", required=True),
            ceiling_rps=dict(type="float"),
            knee_rps=dict(type="float"),
            slo_ms=dict(type="float"),
            title=dict(type="str", default="Capacity sweep"),
            mode=dict(type="str", default="0644"),
        ),
        supports_check_mode=True,
    )
    if not HAS_MATPLOTLIB:
        module.fail_json(msg=missing_required_lib("matplotlib"))
    params = module.params
    dest = params["dest"]
    for index, step in enumerate(params["steps"]):
        missing = {"offered_rps", "throughput_rps", "error_ratio", "latency_ms"} - set(step)
        if missing:
            module.fail_json(msg=f"steps: step {index} has no {', '.join(sorted(missing))}")
    if not params["steps"]:
        module.fail_json(msg="steps: nothing to plot (the sweep has no step)")
    if not os.path.isdir(os.path.dirname(dest) or "."):
        module.fail_json(msg=f"dest: the directory of {dest} does not exist")
    image = render(params["steps"], params["ceiling_rps"], params["slo_ms"], params["title"],
                   params["knee_rps"])
    try:
        with open(dest, "rb") as handle:
            changed = handle.read() != image
    except FileNotFoundError:
        changed = True
    if changed and not module.check_mode:
        descriptor, temporary = tempfile.mkstemp(dir=os.path.dirname(dest) or ".",
                                                 prefix=".capacity-plot-")
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(image)
        os.chmod(temporary, int(params["mode"], 8))
        os.replace(temporary, dest)
    module.exit_json(changed=changed, dest=dest, bytes=len(image))


if __name__ == "__main__":
    main()
