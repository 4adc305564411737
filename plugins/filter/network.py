"""Filters for addresses in configuration files and certificates (logic in module_utils/netcheck.py)."""
from ansible.errors import AnsibleFilterError

from ansible_collections.advwell.platform.plugins.module_utils.netcheck import (
    host_network as _host_network,
    subject_alt_name as _subject_alt_name,
    url_host as _url_host,
)


def host_network(value):
    try:
        return _host_network(value)
    except ValueError as error:
        raise AnsibleFilterError(f"host_network: {error}") from error


def subject_alt_name(value):
    try:
        return _subject_alt_name(value)
    except ValueError as error:
        raise AnsibleFilterError(f"subject_alt_name: {error}") from error


class FilterModule:
    def filters(self):
        return {"host_network": host_network, "subject_alt_name": subject_alt_name, "url_host": _url_host}
