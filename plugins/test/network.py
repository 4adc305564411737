"""Jinja tests: `x is advwell.platform.hostname`, `... cidr`, `... port`, `... host_port`."""
from ansible_collections.advwell.platform.plugins.module_utils.netcheck import (
    is_address_or_network, is_host_port, is_hostname, is_port)


class TestModule:
    def tests(self):
        return {
            "hostname": is_hostname,
            "cidr": is_address_or_network,
            "port": is_port,
            "host_port": is_host_port,
        }
