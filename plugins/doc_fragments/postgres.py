"""Connection options shared by the PostgreSQL modules (module_utils/pg_connection.py)."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  login_host:
    description:
      - Host name or address of the server, or a directory holding its Unix socket.
      - Omit to use libpq's default (the local Unix socket).
    type: str
  login_port:
    description: Port of the server.
    type: int
    default: 5432
  login_user:
    description: Role to connect as.
    type: str
    default: postgres
  login_password:
    description: Password of O(login_user).
    type: str
  login_db:
    description: Database to connect to.
    type: str
    default: postgres
  connect_timeout:
    description: Seconds to wait for the connection.
    type: int
    default: 10
  ssl_mode:
    description:
      - libpq's C(sslmode). Use V(verify-full) with O(ca_cert) across hosts, so that the
        connection is encrypted and the server's certificate names the host dialled.
    type: str
    choices: [allow, disable, prefer, require, verify-ca, verify-full]
    default: prefer
  ca_cert:
    description: CA certificate(s) the server's certificate is verified with (libpq's C(sslrootcert)).
    type: path
    aliases: [ssl_rootcert]
requirements:
  - psycopg2 (on the host that runs the module)
"""
