"""One list of phases: playbooks/site.yml. Everything else follows it."""
import os
import re
import sys

import yaml

from .ansible_run import REPO_ROOT

sys.path.insert(0, os.path.join(REPO_ROOT, "lab"))
import phases  # noqa: E402  (lab/phases.py: not a package)

PLATFORM = os.path.join(REPO_ROOT, "molecule", "platform")


def test_site_runs_every_phase_that_is_not_on_demand():
    missing = [name for name in phases.phase_playbooks()
               if name not in phases.site_phases() and name not in phases.on_demand()]
    assert missing == [], f"playbooks/site.yml does not run {missing} (nor does lab/phases.py's ON_DEMAND list them)"


def test_site_runs_the_phases_in_order_and_only_existing_ones():
    site = phases.site_phases()
    assert site == sorted(site, key=lambda name: int(re.match(r"phase([0-9]+)_", name).group(1)))
    assert set(site) <= set(phases.phase_playbooks())
    assert set(phases.on_demand()) <= set(phases.phase_playbooks())
    assert not set(site) & set(phases.on_demand())
    assert [name[:6] for name in site] == ["phase1", "phase2", "phase3", "phase4", "phase5", "phase6", "phase8"]


def test_the_platform_scenario_converges_site_and_verifies_every_phase():
    with open(os.path.join(PLATFORM, "converge.yml"), encoding="utf-8") as handle:
        converge = yaml.safe_load(handle)
    assert [play["ansible.builtin.import_playbook"] for play in converge] == ["../../playbooks/site.yml"]

    with open(os.path.join(PLATFORM, "verify.yml"), encoding="utf-8") as handle:
        imported = [play["ansible.builtin.import_playbook"] for play in yaml.safe_load(handle)]
    on_disk = sorted("verify/" + name for name in os.listdir(os.path.join(PLATFORM, "verify")))
    assert sorted(imported) == on_disk, "molecule/platform/verify.yml must import every verify/*.yml"
    # Every check that changes nothing before any disruptive one.
    disruptive = [name.endswith("_disruptive.yml") for name in imported]
    assert disruptive == sorted(disruptive)
    # An on-demand phase of its own (phase 7) is verified there too, on the converged platform.
    numbers = sorted({re.match(r"(phase[0-9]+)_", name).group(1) for name in phases.phase_playbooks()})
    assert "phase7" in numbers
    for number in numbers:
        assert f"verify/{number}.yml" in imported, f"no verify/{number}.yml for playbooks/{number}_*.yml"


def _zero_change_reruns():
    """Playbooks a platform verify file runs as site.yml does (no options but -vvv) and then, before
    it runs another, asserts changed nothing (playbook_changed == 0)."""
    found = set()
    for name in os.listdir(os.path.join(PLATFORM, "verify")):
        with open(os.path.join(PLATFORM, "verify", name), encoding="utf-8") as handle:
            plays = yaml.safe_load(handle)
        for play in plays:
            running = None
            for task in play.get("tasks", []):
                if str(task.get("ansible.builtin.include_tasks", "")).endswith("run_playbook.yml"):
                    run = task.get("vars", {})
                    running = run["playbook"] if run.get("playbook_args", "-vvv") == "-vvv" else None
                elif running and re.search(r"playbook_changed\S*( \| sum)? == 0",
                                           str(task.get("ansible.builtin.assert", {}).get("that", ""))):
                    found.add(running)
    return found


def test_every_phase_of_site_is_rerun_with_zero_changes_in_the_platform_verify():
    # The platform scenario has no idempotence step (its molecule.yml says why): this is what replaces it.
    missing = sorted(set(phases.site_phases()) - _zero_change_reruns())
    assert missing == [], f"no verify file re-runs {missing} and asserts it changed nothing"


def test_the_readme_lists_every_phase_of_site():
    with open(os.path.join(REPO_ROOT, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    for name in phases.site_phases():
        assert f"`playbooks/{name}`" in readme, f"README.md does not mention playbooks/{name}"
