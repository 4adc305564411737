import pytest

from ansible_collections.advwell.platform.plugins.module_utils.netcheck import (
    host_network, is_address_or_network, is_host_port, is_hostname, is_port, normalize_source,
    subject_alt_name, url_host)


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


# pg_hba.conf and the DOCKER-USER guard used to append /32 to any bare address, IPv6 too.
@pytest.mark.parametrize("value,expected", [
    ("203.0.113.10", "203.0.113.10/32"), ("2001:db8::10", "2001:db8::10/128"),
    ("172.30.57.10/31", "172.30.57.10/31"), ("10.0.0.7/8", "10.0.0.0/8"), ("2001:db8::/64", "2001:db8::/64")])
def test_host_networks_have_the_family_s_own_prefix(value, expected):
    assert host_network(value) == expected


def test_host_network_refuses_a_name():
    with pytest.raises(ValueError):
        host_network("app-vps")


@pytest.mark.parametrize("value,expected", [
    ("198.51.100.20", "IP:198.51.100.20"), ("2001:db8::20", "IP:2001:db8::20"),
    ("db.example.com", "DNS:db.example.com"), ("db.example.com.", "DNS:db.example.com")])
def test_certificate_names(value, expected):
    assert subject_alt_name(value) == expected


@pytest.mark.parametrize("value", ["db host", "198.51.100.0/24", ""])
def test_certificate_names_refuse_what_clients_cannot_dial(value):
    with pytest.raises(ValueError, match="neither an IP address nor a host name"):
        subject_alt_name(value)


@pytest.mark.parametrize("value,expected", [
    ("2001:db8::20", "[2001:db8::20]"), ("198.51.100.20", "198.51.100.20"), ("db.example.com", "db.example.com")])
def test_url_hosts_bracket_ipv6(value, expected):
    assert url_host(value) == expected
