"""Filter: sshd's effective configuration (logic in module_utils/sshd_config.py)."""
from ansible_collections.advwell.platform.plugins.module_utils.sshd_config import parse_effective


def sshd_effective(text):
    """`sshd -T`'s output as {keyword: [values]}."""
    return parse_effective(text)


class FilterModule:
    def filters(self):
        return {"sshd_effective": sshd_effective}
