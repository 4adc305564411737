"""The phase list, read from playbooks/site.yml (its one place).

    python3 lab/phases.py            the phase playbooks site.yml imports, in order
    python3 lab/phases.py on-demand  the playbooks its "On demand" line names
"""
import os
import re
import sys

import yaml

PLAYBOOKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "playbooks")
ON_DEMAND_LINE = re.compile(r"^# On demand, not run here: (.+)$", re.MULTILINE)


def _site_text():
    with open(os.path.join(PLAYBOOKS, "site.yml"), encoding="utf-8") as handle:
        return handle.read()


def site_phases():
    """File names of the playbooks site.yml imports, in order."""
    return [play["ansible.builtin.import_playbook"] for play in yaml.safe_load(_site_text())]


def on_demand():
    """File names site.yml declares on demand (its "On demand, not run here:" line)."""
    match = ON_DEMAND_LINE.search(_site_text())
    return [name.strip() for name in match.group(1).split(",")] if match else []


def phase_playbooks():
    """Every playbooks/phaseN_*.yml."""
    return sorted(name for name in os.listdir(PLAYBOOKS) if re.fullmatch(r"phase[0-9]+_[a-z0-9_]+\.yml", name))


if __name__ == "__main__":
    print("\n".join(on_demand() if sys.argv[1:] == ["on-demand"] else site_phases()))
