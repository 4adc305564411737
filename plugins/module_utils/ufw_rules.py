"""Declared-state UFW: which rules on a host were not declared and must go.

`ufw show added` prints the user rules as the commands that created them, e.g.
    ufw allow 22/tcp comment 'advwell ssh'
    ufw allow from 203.0.113.10 to any port 5432 proto tcp
Each rule is reduced to a key (action, port, proto, source) that a declared rule
also produces; rules whose key is not declared are returned with the words that
`ufw delete` needs to remove them; declared rules the host does not have are returned
as they were declared (the status board's check that UFW is as declared).
"""
import shlex

from ansible_collections.advwell.platform.plugins.module_utils.netcheck import normalize_source

ACTIONS = ("allow", "deny", "reject", "limit")


def declared_key(rule):
    return (
        rule.get("action", "allow"),
        str(rule["port"]),
        rule.get("proto", "tcp"),
        normalize_source(rule.get("from", "any")),
    )


def _strip_comment(words):
    if "comment" in words:
        return words[:words.index("comment")]
    return words


def rule_key(words):
    """Key of one `ufw show added` rule (without the leading 'ufw'), or None if unusual."""
    words = _strip_comment(words)
    if not words or words[0] not in ACTIONS:
        return None
    action, rest = words[0], words[1:]
    if len(rest) == 1 and "from" not in rest:
        port, _sep, proto = rest[0].partition("/")
        return (action, port, proto or "any", "any")
    options = dict(zip(rest[::2], rest[1::2]))
    if len(rest) % 2 or set(options) - {"from", "to", "port", "proto"}:
        return None
    if options.get("to", "any") != "any" or "port" not in options:
        return None
    return (action, options["port"], options.get("proto", "any"),
            normalize_source(options.get("from", "any")))


def parse_added(text):
    """Rules listed by `ufw show added`, each as its words without 'ufw'."""
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("ufw "):
            rules.append(shlex.split(line)[1:])
    return rules


def undeclared_rules(show_added_text, declared):
    """Words for `ufw delete` of every rule on the host that `declared` does not contain."""
    wanted = {declared_key(rule) for rule in declared}
    return [_strip_comment(words) for words in parse_added(show_added_text)
            if rule_key(words) not in wanted]


def missing_rules(show_added_text, declared):
    """Declared rules that `ufw show added` does not list, as they were declared."""
    present = {rule_key(words) for words in parse_added(show_added_text)}
    return [rule for rule in declared if declared_key(rule) not in present]
