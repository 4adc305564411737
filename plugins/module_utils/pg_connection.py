"""Connection options and connecting, shared by the PostgreSQL modules."""


def connection_argument_spec():
    return dict(
        login_host=dict(type="str"),
        login_port=dict(type="int", default=5432),
        login_user=dict(type="str", default="postgres"),
        login_password=dict(type="str", no_log=True),
        login_db=dict(type="str", default="postgres"),
        connect_timeout=dict(type="int", default=10),
        ssl_mode=dict(type="str", default="prefer",
                      choices=["allow", "disable", "prefer", "require", "verify-ca", "verify-full"]),
        ca_cert=dict(type="path", aliases=["ssl_rootcert"]),
    )


def connect(psycopg2, params, dbname=None, autocommit=True):
    """A psycopg2 connection from the login_* module parameters."""
    options = dict(host=params["login_host"], port=params["login_port"],
                   user=params["login_user"], password=params["login_password"],
                   dbname=dbname or params["login_db"], connect_timeout=params["connect_timeout"],
                   sslmode=params["ssl_mode"], sslrootcert=params["ca_cert"])
    conn = psycopg2.connect(**{key: value for key, value in options.items() if value is not None})
    conn.autocommit = autocommit
    return conn
