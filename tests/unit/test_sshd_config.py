"""sshd -T's output, keyword by keyword (module_utils/sshd_config.py, filter sshd_effective)."""
from ansible_collections.advwell.platform.plugins.module_utils.sshd_config import parse_effective

# Lines as OpenSSH 9.2 (Debian 12) prints them, two ports and a Match-applied key file.
SSHD_T = """port 22
port 2222
addressfamily any
listenaddress [::]:22
listenaddress 0.0.0.0:22
passwordauthentication no
PermitRootLogin without-password
authorizedkeysfile .ssh/authorized_keys /etc/ssh/keys/%u
hostkey /etc/ssh/ssh_host_ed25519_key
hostkey /etc/ssh/ssh_host_rsa_key

"""


def test_repeated_keywords_keep_every_value_in_order():
    effective = parse_effective(SSHD_T)
    assert effective["port"] == ["22", "2222"]
    assert effective["hostkey"] == ["/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_rsa_key"]
    assert effective["listenaddress"] == ["[::]:22", "0.0.0.0:22"]


def test_a_list_on_one_line_is_one_value_and_keywords_are_lower_case():
    effective = parse_effective(SSHD_T)
    assert effective["authorizedkeysfile"] == [".ssh/authorized_keys /etc/ssh/keys/%u"]
    assert effective["permitrootlogin"] == ["without-password"]
    assert effective["passwordauthentication"] == ["no"]


def test_nothing_printed_is_no_keyword():
    assert parse_effective("") == {}
    assert parse_effective("\n  \n") == {}
