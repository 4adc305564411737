from ansible_collections.advwell.platform.plugins.module_utils.ufw_rules import (
    declared_key, missing_rules, parse_added, rule_key, undeclared_rules)

SHOW_ADDED = """Added user rules (see 'ufw status' for running firewall):
ufw allow 22/tcp comment 'advwell ssh'
ufw allow from 203.0.113.10 to any port 5432 proto tcp comment 'advwell postgresql'
ufw allow from 203.0.113.10 to any port 9100 proto tcp comment 'advwell node exporter'
ufw allow 8080/tcp
ufw allow from 192.0.2.0/24
ufw allow in on eth1 to any port 9999
"""

DECLARED = [
    {"port": 22, "proto": "tcp", "from": "any", "comment": "ssh"},
    {"port": 5432, "proto": "tcp", "from": "203.0.113.10/32", "comment": "postgresql"},
]


def test_parse_added_keeps_rule_words_only():
    rules = parse_added(SHOW_ADDED)
    assert len(rules) == 6
    assert rules[0] == ["allow", "22/tcp", "comment", "advwell ssh"]


def test_rule_keys_match_declared_keys():
    assert rule_key(["allow", "22/tcp"]) == declared_key(DECLARED[0])
    assert rule_key(["allow", "from", "203.0.113.10", "to", "any", "port", "5432", "proto", "tcp"]) \
        == declared_key(DECLARED[1])


def test_unusual_rules_have_no_key_and_are_never_declared():
    assert rule_key(["allow", "in", "on", "eth1", "to", "any", "port", "9999"]) is None
    assert rule_key(["allow", "from", "192.0.2.0/24"]) is None


def test_undeclared_rules_are_returned_as_delete_words():
    stale = undeclared_rules(SHOW_ADDED, DECLARED)
    assert stale == [
        ["allow", "from", "203.0.113.10", "to", "any", "port", "9100", "proto", "tcp"],
        ["allow", "8080/tcp"],
        ["allow", "from", "192.0.2.0/24"],
        ["allow", "in", "on", "eth1", "to", "any", "port", "9999"],
    ]


def test_nothing_to_delete_when_host_matches_declaration():
    host = "ufw allow 22/tcp comment 'advwell ssh'\n" \
           "ufw allow from 203.0.113.10 to any port 5432 proto tcp\n"
    assert undeclared_rules(host, DECLARED) == []


def test_port_without_protocol_differs_from_tcp_port():
    assert undeclared_rules("ufw allow 22\n", DECLARED) == [["allow", "22"]]


def test_declared_rules_the_host_lacks_are_missing():
    assert missing_rules(SHOW_ADDED, DECLARED) == []
    declared = DECLARED + [{"port": 9187, "proto": "tcp", "from": "203.0.113.10"}, {"port": 22, "proto": "udp"}]
    assert missing_rules(SHOW_ADDED, declared) == declared[2:]
    assert missing_rules("", DECLARED) == DECLARED
