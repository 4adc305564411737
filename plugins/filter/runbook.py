"""Filter reading the command blocks of a generated runbook (logic in module_utils/runbook.py)."""
from ansible.errors import AnsibleFilterError

from ansible_collections.advwell.platform.plugins.module_utils.runbook import RunbookError, command_blocks


def runbook_blocks(text, document=""):
    """The marked shell blocks of a Markdown text; see the filter's documentation."""
    if not isinstance(text, str):
        raise AnsibleFilterError(f"runbook_blocks: expected the document's text, got {type(text).__name__}")
    try:
        return command_blocks(text, str(document))
    except RunbookError as error:
        raise AnsibleFilterError(f"runbook_blocks: {error}") from None


class FilterModule:
    def filters(self):
        return {"runbook_blocks": runbook_blocks}
