"""Filter drawing the status board from checks of the live hosts (logic in module_utils/status_board.py)."""
from ansible.errors import AnsibleFilterError

from ansible_collections.advwell.platform.plugins.module_utils.status_board import (
    StatusBoardError, status_board as compute)


def status_board(checks, titles, generated_at=None):
    """The board's document for ``checks``; see the filter's documentation."""
    try:
        return compute(list(checks or []), dict(titles), generated_at)
    except StatusBoardError as error:
        raise AnsibleFilterError(f"status_board: {error}") from None


class FilterModule:
    def filters(self):
        return {"status_board": status_board}
