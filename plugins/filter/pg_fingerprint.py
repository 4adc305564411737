"""Filter comparing two database fingerprints (logic in module_utils/pg_fingerprint.py)."""
from ansible_collections.advwell.platform.plugins.module_utils.pg_fingerprint import mismatches


def pg_fingerprint_mismatches(source, target):
    """Differences between the source's and the target's fingerprints; empty when equal."""
    return mismatches(source, target)


class FilterModule:
    def filters(self):
        return {"pg_fingerprint_mismatches": pg_fingerprint_mismatches}
