"""The phase list: playbooks/site.yml's imports, and the playbooks run only on demand.

    python3 lab/phases.py            the phase playbooks site.yml imports, in order
    python3 lab/phases.py on-demand  the phase playbooks site.yml does not run (ON_DEMAND)
"""
import os
import re
import sys

import yaml

PLAYBOOKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "playbooks")
# Phase playbooks site.yml does not run: they undo a phase, restore, or load the system.
ON_DEMAND = ["phase2_rollback.yml", "phase5_restore.yml", "phase5_restore_drill.yml", "phase7_capacity.yml"]


def _site_text():
    with open(os.path.join(PLAYBOOKS, "site.yml"), encoding="utf-8") as handle:
        return handle.read()


def site_phases():
    """File names of the playbooks site.yml imports, in order."""
    return [play["ansible.builtin.import_playbook"] for play in yaml.safe_load(_site_text())]


def on_demand():
    """File names of the phase playbooks run only on demand."""
    return list(ON_DEMAND)


def phase_playbooks():
    """Every playbooks/phaseN_*.yml."""
    return sorted(name for name in os.listdir(PLAYBOOKS) if re.fullmatch(r"phase[0-9]+_[a-z0-9_]+\.yml", name))


if __name__ == "__main__":
    print("\n".join(on_demand() if sys.argv[1:] == ["on-demand"] else site_phases()))
