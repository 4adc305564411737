"""The shared login options reach libpq: TLS mode and CA included, unset ones left out."""
from ansible_collections.advwell.platform.plugins.module_utils.pg_connection import (
    connect, connection_argument_spec)


class FakePsycopg2:
    def __init__(self):
        self.kwargs = None

    def connect(self, **kwargs):
        self.kwargs = kwargs
        return type("Connection", (), {"autocommit": False})()


def params(**overrides):
    spec = connection_argument_spec()
    return {**{name: option.get("default") for name, option in spec.items()}, **overrides}


def test_tls_options_reach_libpq():
    fake = FakePsycopg2()
    connect(fake, params(login_host="198.51.100.20", ssl_mode="verify-full", ca_cert="/etc/advwell/tls/db-ca.crt"))
    assert fake.kwargs["sslmode"] == "verify-full"
    assert fake.kwargs["sslrootcert"] == "/etc/advwell/tls/db-ca.crt"


def test_unset_options_are_left_to_libpq():
    fake = FakePsycopg2()
    connect(fake, params())
    assert "sslrootcert" not in fake.kwargs and "host" not in fake.kwargs and "password" not in fake.kwargs
    assert fake.kwargs["sslmode"] == "prefer"


def test_ssl_mode_has_libpq_s_choices_and_the_ca_its_alias():
    spec = connection_argument_spec()
    assert spec["ssl_mode"]["choices"] == ["allow", "disable", "prefer", "require", "verify-ca", "verify-full"]
    assert spec["ca_cert"]["aliases"] == ["ssl_rootcert"]
    assert spec["login_password"]["no_log"]
