import pytest

from ansible_collections.advwell.platform.plugins.module_utils.netcheck import (
    is_address_or_network, is_host_port, is_hostname, is_port, normalize_source)


@pytest.mark.parametrize("name", ["advwell-db", "app-vps", "db.example.com", "a", "x" * 63])
def test_valid_host_names(name):
    assert is_hostname(name)


@pytest.mark.parametrize("name", ["", "-db", "db-", "bad_host", "db!", "a..b", "x" * 64, None, 5])
def test_invalid_host_names(name):
    assert not is_hostname(name)


@pytest.mark.parametrize("value", ["203.0.113.10", "10.0.0.0/8", "198.51.100.20/32", "2001:db8::/32"])
def test_valid_addresses(value):
    assert is_address_or_network(value)


@pytest.mark.parametrize("value", ["300.1.1.1", "10.0.0.0/33", "app-vps", "", None])
def test_invalid_addresses(value):
    assert not is_address_or_network(value)


@pytest.mark.parametrize("value,expected", [
    (22, True), ("5432", True), (65535, True), (0, False), (65536, False),
    ("22/tcp", False), ("abc", False), (True, False), (-1, False)])
def test_ports(value, expected):
    assert is_port(value) is expected


@pytest.mark.parametrize("value,expected", [
    ("any", "any"), (None, "any"), ("0.0.0.0/0", "any"), ("203.0.113.10/32", "203.0.113.10"),
    ("203.0.113.10", "203.0.113.10"), ("10.1.2.3/8", "10.0.0.0/8")])
def test_sources_are_written_as_ufw_prints_them(value, expected):
    assert normalize_source(value) == expected


@pytest.mark.parametrize("value,expected", [
    ("10.0.0.5:9100", True), ("db-vps:9187", True), ("localhost:9090", True), ("[2001:db8::1]:9100", True),
    ("10.0.0.5", False), ("db-vps", False), ("10.0.0.5:0", False), ("10.0.0.5:70000", False),
    ("300.1.1.1:9100", False), ("2001:db8::1:9100", False), ("[db-vps]:9100", False),
    ("http://db-vps:9100", False), (":9100", False), ("bad_host:9100", False), (None, False), (9100, False)])
def test_scrape_targets(value, expected):
    assert is_host_port(value) is expected
