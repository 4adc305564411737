"""Filters for declared-state firewalls (logic in module_utils/ufw_rules.py)."""
from ansible_collections.advwell.platform.plugins.module_utils.ufw_rules import missing_rules, undeclared_rules


def ufw_undeclared_rules(show_added_text, declared):
    """Rules printed by `ufw show added` that are not in `declared`, as `ufw delete` words."""
    return undeclared_rules(show_added_text, declared)


def ufw_missing_rules(show_added_text, declared):
    """Rules in `declared` that `ufw show added` does not list."""
    return missing_rules(show_added_text, declared)


class FilterModule:
    def filters(self):
        return {"ufw_undeclared_rules": ufw_undeclared_rules, "ufw_missing_rules": ufw_missing_rules}
