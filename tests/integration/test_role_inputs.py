"""Bad role variables are rejected, naming the variable, before anything changes.

The roles run against this machine in check mode. Every case runs in one ansible-playbook
(each case is a host of its own: see `run_roles`). The first task that would touch the host
comes after validation, so its absence from a case's results proves nothing was attempted.
"""

import collections
import json

import pytest

from .ansible_run import run_roles

# What every case of an entry point shares: besides the role and its tasks_from, the first
# task that would change the host, and the variables every case needs besides its own.
EntryPoint = collections.namedtuple("EntryPoint", "role tasks_from first_change_task common")
ENTRY_POINTS = {}
# host -> (entry point, variables, {file name: content} written to the case's directory)
CASES = {}


def entry_point(name, role, tasks_from, first_change_task, **common):
    ENTRY_POINTS[name] = EntryPoint(role, tasks_from, first_change_task, common)


def case(name, variables, files=None):
    """Registers a case of an entry point and returns its host name. "{dir}" in a string
    variable is the case's own directory."""
    host = f"{name}-{sum(1 for other in CASES if other.rsplit('-', 1)[0] == name) + 1}"
    CASES[host] = (name, variables, files or {})
    return host


def cases(name, table):
    """A table's (id, variables, message) rows as pytest parameters (host, message)."""
    return [pytest.param(case(name, variables), message, id=case_id) for case_id, variables, message in table]


def in_case_dir(value, case_dir):
    if isinstance(value, str):
        return value.replace("{dir}", str(case_dir))
    if isinstance(value, list):
        return [in_case_dir(item, case_dir) for item in value]
    if isinstance(value, dict):
        return {key: in_case_dir(item, case_dir) for key, item in value.items()}
    return value


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    """({host: its task results}, everything the run printed) of the one check-mode run of
    every case (results as ansible_run.host_results gives them)."""
    base = tmp_path_factory.mktemp("roles")
    run_cases = {}
    for host, (name, variables, files) in CASES.items():
        entry = ENTRY_POINTS[name]
        case_dir = base / host
        case_dir.mkdir()
        for file_name, content in files.items():
            (case_dir / file_name).write_text(content)
        run_cases[host] = (entry.role, entry.tasks_from, in_case_dir({**entry.common, **variables}, case_dir))
    results, _report, run = run_roles(base, run_cases, check_mode=True)
    return results, run.stdout + run.stderr


def failed(result):
    return result["status"] == "failed"


def shown(results):
    return "\n".join(f"{result['task']}: {result['status']} {result['error']}" for result in results)


def assert_rejected_before_changes(outcome, host, message):
    """The case failed on its last task, whose message has `message`, before its first change task."""
    results = outcome[0][host]
    first_change_task = ENTRY_POINTS[CASES[host][0]].first_change_task
    assert results and failed(results[-1]), shown(results)
    assert message in results[-1]["error"], shown(results)
    assert not [result for result in results if first_change_task in result["task"]], shown(results)


entry_point("firewall", "security", "firewall", "Allow the declared rules")
BAD_FIREWALL = [
    ("port out of range", {"security_firewall_extra_rules": [{"port": 70000, "from": "203.0.113.10"}]},
     "security_firewall_rules: port '70000'"),
    ("port not a number", {"security_firewall_extra_rules": [{"port": "ssh"}]},
     "security_firewall_extra_rules"),
    ("bad CIDR", {"security_firewall_extra_rules": [{"port": 5432, "from": "10.0.0.0/33"}]},
     "from '10.0.0.0/33' is not an IP address"),
    ("host name as source", {"security_firewall_extra_rules": [{"port": 5432, "from": "app-vps"}]},
     "from 'app-vps' is not an IP address"),
    ("bad protocol", {"security_firewall_extra_rules": [{"port": 5432, "proto": "icmp"}]},
     "proto"),
    ("swarm peer not an address", {"security_swarm_peers": ["swarm-worker"]},
     "security_swarm_peers: 'swarm-worker'"),
    ("port zero", {"security_firewall_rules": [{"port": 0}]},
     "security_firewall_rules: port '0'"),
    # The DOCKER-USER guard is iptables: an IPv6 source would silently not be admitted there.
    ("IPv6 source of a guarded port", {"security_firewall_extra_rules": [{"port": 5432, "from": "2001:db8::10"}]},
     "port 5432 from '2001:db8::10' is IPv6"),
]


@pytest.mark.parametrize("host,message", cases("firewall", BAD_FIREWALL))
def test_firewall_rejects_bad_input(outcome, host, message):
    assert_rejected_before_changes(outcome, host, message)


entry_point("hardening", "security", "hardening", "Install fail2ban")
BAD_HARDENING = [
    ("ignoreip not an address", {"security_fail2ban_ignoreip": ["office"]},
     "security_fail2ban_ignoreip: 'office' is not an IP address"),
    ("findtime not a time", {"security_fail2ban_findtime": "ten minutes"},
     "security_fail2ban_findtime: 'ten minutes' is not a time"),
    ("bantime with a bad unit", {"security_fail2ban_recidive_bantime": "1fortnight"},
     "security_fail2ban_recidive_bantime: '1fortnight' is not a time"),
    ("zero maxretry", {"security_fail2ban_maxretry": 0}, "security_fail2ban_maxretry: must be 1 or more, got 0"),
    ("negative ban factor", {"security_fail2ban_bantime_factor": -1},
     "security_fail2ban_bantime_factor: must be more than 0"),
    ("unknown sshd backend", {"security_fail2ban_sshd_backend": "journal"}, "security_fail2ban_sshd_backend"),
    ("deploy user with a space", {"security_ssh_deploy_user": "deploy user"},
     "security_ssh_deploy_user: 'deploy user' is not a user name"),
    ("Match block in sshd settings", {"security_sshd_extra_settings": {"Match": "User backup"}},
     "security_sshd_extra_settings: 'Match: User backup' is not a global sshd keyword"),
    ("sshd value on two lines", {"security_sshd_extra_settings": {"Banner": "/etc/issue\nPermitRootLogin yes"}},
     "security_sshd_extra_settings: 'Banner"),
    ("relative scan path", {"security_secrets_scan_paths": ["root/advwell"]},
     "security_secrets_scan_paths: 'root/advwell' is not an absolute path"),
    ("rate limit burst zero", {"security_rate_limit_burst": 0},
     "security_rate_limit_burst: must be a whole number of at least 1, got 0"),
    ("rate limit average not a number", {"security_rate_limit_average": "fast"},
     "security_rate_limit_average: must be a whole number of at least 1, got fast"),
    ("CSRF endpoint not a URL", {"security_csrf_check_urls": ["api.example.com/api/clients"]},
     "security_csrf_check_urls: 'api.example.com/api/clients' is not an http or https URL"),
]


@pytest.mark.parametrize("host,message", cases("hardening", BAD_HARDENING))
def test_hardening_rejects_bad_input(outcome, host, message):
    assert_rejected_before_changes(outcome, host, message)


entry_point("base", "base", "main", "Set the host name")
BAD_BASE = [
    ("bad host name", {"base_hostname": "bad_host!"}, "base_hostname: 'bad_host!' is not a valid host name"),
    ("bad log size", {"base_docker_log_max_size": "lots"}, "base_docker_log_max_size"),
    ("bad docker source", {"base_docker_source": "snap"}, "base_docker_source"),
    ("bad strategy", {"base_hostname_strategy": "magic"}, "base_hostname_strategy"),
]


@pytest.mark.parametrize("host,message", cases("base", BAD_BASE))
def test_base_rejects_bad_input(outcome, host, message):
    assert_rejected_before_changes(outcome, host, message)


VALID_FIREWALL = case("firewall", {"security_guard_published_ports": False,
                                   "security_firewall_extra_rules": [{"port": 5432, "from": "203.0.113.10"}]})


def test_valid_firewall_input_passes_validation(outcome):
    """The same check-mode run with good values gets past validation (so the failures
    above are about the values, not the harness)."""
    results = outcome[0][VALID_FIREWALL]
    validation = [result for result in results if "Check every firewall source is 'any' or an address/CIDR" in result["task"]]
    assert validation and not failed(validation[0]), shown(results)
    assert [result for result in results if "Allow the declared rules" in result["task"]], shown(results)


entry_point("db_vps", "db_vps", "main", "Install the PostgreSQL and cryptography libraries",
            advwell_postgres_password="s3cret-superuser", db_vps_host_memory="16GB", db_vps_host_cpus=4,
            db_vps_app_address="203.0.113.10", db_vps_tls_names=["198.51.100.20"],
            advwell_pki_passphrase="s3cret-ca", advwell_pki_dir="{dir}/pki")
BAD_DB_VPS = [
    ("app address not an IP", {"db_vps_app_address": "app-vps"}, "db_vps_app_address: 'app-vps'"),
    ("unknown storage", {"db_vps_storage": "tape"}, "db_vps_storage"),
    ("unknown workload", {"db_vps_workload": "batch"}, "db_vps_workload"),
    ("port out of range", {"advwell_db_port": 99999}, "advwell_db_port: '99999'"),
    ("no password", {"advwell_postgres_password": ""}, "advwell_postgres_password: not set"),
    # One name per fact: a role's old copy of one is refused, naming the fact to set.
    ("retired port variable", {"db_vps_port": 6432},
     "db_vps_port is retired: set advwell_db_port instead, which every role reads"),
    ("retired database variable", {"db_backup_database": "lawdb"},
     "db_backup_database is retired: set advwell_database instead"),
    ("superuser as the app's role", {"advwell_app_db_user": "postgres"},
     "advwell_app_db_user: 'postgres' is the superuser"),
    ("relative URL file", {"advwell_database_url_file": "config/database_url"},
     "advwell_database_url_file: 'config/database_url' must be an absolute path"),
    ("certificate name is a network", {"db_vps_tls_names": ["198.51.100.0/24"]}, "db_vps_tls_names: [\"198.51.100.0/24\"]"),
    ("certificate name with a space", {"db_vps_tls_names": ["db host"]}, "db_vps_tls_names: [\"db host\"]"),
    ("renewal after expiry", {"db_vps_tls_renew_days": 400}, "db_vps_tls_renew_days: 400 must be less than db_vps_tls_cert_days (365)"),
    ("no CA passphrase", {"advwell_pki_passphrase": ""}, "advwell_pki_passphrase: not set"),
]


@pytest.mark.parametrize("host,message", cases("db_vps", BAD_DB_VPS))
def test_db_vps_rejects_bad_input(outcome, host, message):
    assert_rejected_before_changes(outcome, host, message)


MIGRATION_PASSWORDS = {"db_migration_source_password": "s3cret-source", "advwell_postgres_password": "s3cret-target",
                       "advwell_db_address": "198.51.100.20"}
entry_point("db_migration", "db_migration", "main", "Look for the record of a finished migration",
            advwell_app_db_password="s3cret-app", **MIGRATION_PASSWORDS)
BAD_DB_MIGRATION = [
    ("target port out of range", {"advwell_db_port": 70000}, "advwell_db_port: '70000'"),
    ("target host with a space", {"advwell_db_address": "db host"}, "advwell_db_address: 'db host'"),
    ("no source password", {"db_migration_source_password": ""}, "db_migration_source_password must be set"),
    ("zero jobs", {"db_migration_jobs": 0}, "db_migration_jobs must be >= 1 (0)"),
    ("database name with SQL", {"advwell_database": "advtom; DROP"},
     "advwell_database: 'advtom; DROP' must be a plain lower-case identifier"),
    ("compression out of range", {"db_migration_compression": 12}, "db_migration_compression 0-9 (12)"),
    ("no app password", {"advwell_app_db_password": ""}, "advwell_app_db_password must be set"),
    ("app role is the superuser", {"advwell_app_db_user": "postgres"},
     "advwell_app_db_user: 'postgres' is the superuser"),
    ("app role with SQL", {"advwell_app_db_user": "app\"; DROP"},
     "advwell_app_db_user: 'app\"; DROP' must be a plain lower-case identifier"),
    ("plaintext to the target", {"db_migration_target_ssl_mode": "disable"}, "db_migration_target_ssl_mode"),
]


@pytest.mark.parametrize("host,message", cases("db_migration", BAD_DB_MIGRATION))
def test_db_migration_rejects_bad_input(outcome, host, message):
    assert_rejected_before_changes(outcome, host, message)


entry_point("db_migration_rollback", "db_migration", "rollback", "Start the old PostgreSQL", **MIGRATION_PASSWORDS)
UNCONFIRMED_ROLLBACK = case("db_migration_rollback", {})


def test_db_migration_rollback_needs_confirmation(outcome):
    assert_rejected_before_changes(outcome, UNCONFIRMED_ROLLBACK, "Run again with -e db_migration_rollback_confirm=yes")


APP_VPS_REQUIRED = {"app_vps_swarm_advertise_address": "203.0.113.10", "advwell_redis_password": "s3cret-redis"}
entry_point("app_vps", "app_vps", "main", "Read the DATABASE_URL phase 2 wrote", **APP_VPS_REQUIRED)
BAD_APP_VPS = [
    ("negative replicas", {"app_vps_backend_replicas": -1},
     "app_vps_backend_replicas: must be a whole number of at least 1, got -1"),
    ("zero pool", {"app_vps_backend_pool_size": 0}, "app_vps_backend_pool_size: must be a whole number"),
    ("quorum above the sentinels", {"app_vps_redis_quorum": 4}, "app_vps_redis_quorum: 4 is more than the 3 sentinels"),
    ("port out of range", {"app_vps_http_port": 70000}, "app_vps_http_port: '70000' is not a port"),
    ("bad memory size", {"app_vps_backend_memory": "lots"}, "app_vps_backend_memory: 'lots' is not a size"),
    ("host name as Swarm address", {"app_vps_swarm_advertise_address": "app-vps"},
     "app_vps_swarm_advertise_address: 'app-vps' is not an IP address"),
    ("bad domain", {"app_vps_api_domain": "api example"}, "app_vps_api_domain: 'api example' is not a DNS name"),
    ("unknown edge", {"app_vps_edge": "haproxy"}, "app_vps_edge"),
]


@pytest.mark.parametrize("host,message", cases("app_vps", BAD_APP_VPS))
def test_app_vps_rejects_bad_input(outcome, host, message):
    assert_rejected_before_changes(outcome, host, message)


# The DATABASE_URL phase 2 writes, read from a file: past that read, the first change is the budget's check.
entry_point("app_vps_url", "app_vps", "main", "Check the connection budget",
            advwell_database_url_file="{dir}/database_url", **APP_VPS_REQUIRED)
UNVERIFIED_URLS = [
    pytest.param(case("app_vps_url", {}, {"database_url": f"postgresql://advwell_app:pw@198.51.100.20:5432/advtom{query}"}),
                 message, id=case_id)
    for case_id, query, message in [
        ("no TLS parameters", "", "connects with sslmode=prefer and no sslrootcert"),
        ("TLS without verification", "?sslmode=require&sslrootcert=/ca.crt", "connects with sslmode=require"),
        ("no CA", "?sslmode=verify-full", "connects with sslmode=verify-full and no sslrootcert"),
    ]]


@pytest.mark.parametrize("host,message", UNVERIFIED_URLS)
def test_app_vps_refuses_a_database_url_that_does_not_verify_the_server(outcome, host, message):
    assert_rejected_before_changes(outcome, host, message)
    assert "pw@" not in json.dumps(outcome[0][host])


# A throwaway key made with age-keygen for these checks.
AGE_RECIPIENT = "age1su86sv4t5gsfk09xkq5mkdf573n5zdh5d6cq0rtdpq4t3jmde5nqdvwqnx"
AGE_IDENTITY = "AGE-SECRET-KEY-1Z4ZZF3H3P7SWJEY27CCFQDCQLX0X7P7E0VANL3CUM35L742WJ7XS84XY03"
entry_point("db_backup", "db_backup", "main", "Install what the backup script needs",
            db_backup_password="s3cret-backup", db_backup_s3_access_key="a", db_backup_s3_secret_key="s3cret-s3",
            advwell_postgres_password="s3cret-restore", db_backup_age_recipients=[AGE_RECIPIENT],
            db_backup_age_identity=AGE_IDENTITY)
BAD_DB_BACKUP = [
    ("prefix without slash", {"db_backup_s3_prefix": "backups/postgresql"},
     "db_backup_s3_prefix 'backups/postgresql' must be non-empty and end with '/'"),
    ("empty prefix", {"db_backup_s3_prefix": ""}, "db_backup_s3_prefix '' must be non-empty"),
    ("nothing kept in S3", {"db_backup_s3_min_keep": 0}, "db_backup_s3_min_keep (0)"),
    ("backup dir with a space", {"db_backup_dir": "/root/my backups"}, "db_backup_dir: '/root/my backups'"),
    ("no S3 secret key", {"db_backup_s3_secret_key": ""}, "db_backup_s3_secret_key must be set"),
    ("unknown mode", {"db_backup_pg_mode": "ssh"}, "db_backup_pg_mode"),
    ("no superuser password", {"advwell_postgres_password": ""},
     "advwell_postgres_password must be set (the database superuser's password, for restores and the drill"),
    ("no backup password", {"db_backup_password": ""}, "db_backup_password must be set"),
    ("no S3 access key", {"db_backup_s3_access_key": ""}, "db_backup_s3_access_key must be set"),
    ("margin below 1", {"db_backup_space_margin": 0.5}, "db_backup_space_margin at least 1 (0.5)"),
    ("server on another host", {"db_backup_pg_mode": "host", "db_backup_host": "198.51.100.20"},
     "db_backup_host: '198.51.100.20' is not this host"),
    ("no recipient", {"db_backup_age_recipients": []}, "db_backup_age_recipients must list at least one"),
    ("a private key as recipient", {"db_backup_age_recipients": [AGE_IDENTITY]},
     "db_backup_age_recipients must list at least one age public key"),
    ("identity that is no age key", {"db_backup_age_identity": "CHANGE-ME"},
     "db_backup_age_identity must be empty or an age identity"),
    ("drill without identity", {"db_backup_age_identity": ""}, "the weekly drill (db_backup_drill_enabled) needs it"),
    ("bad backup role name", {"db_backup_user": "backup-user"}, "db_backup_user 'backup-user' a plain role name"),
]


@pytest.mark.parametrize("host,message", cases("db_backup", BAD_DB_BACKUP))
def test_db_backup_rejects_bad_input(outcome, host, message):
    assert_rejected_before_changes(outcome, host, message)


BACKUP_SECRETS = ["db_backup_password", "advwell_postgres_password", "db_backup_s3_access_key", "db_backup_s3_secret_key"]


def missing_secret_case(name):
    [host] = [host for host, (entry, variables, _files) in CASES.items() if entry == "db_backup" and variables == {name: ""}]
    return host


def test_each_missing_backup_secret_is_named_alone(outcome):
    """Four cases, four messages: each names the one variable that is missing, and no other."""
    for name in BACKUP_SECRETS:
        error = outcome[0][missing_secret_case(name)][-1]["error"]
        assert [other for other in BACKUP_SECRETS if other in error] == [name], error


def test_a_wrong_expectation_fails(outcome):
    """The check the tables use fails on a case whose expected message is another case's."""
    with pytest.raises(AssertionError):
        assert_rejected_before_changes(outcome, missing_secret_case("db_backup_s3_secret_key"),
                                       "db_backup_s3_access_key must be set")


entry_point("monitoring", "monitoring", "main", "Install the configuration checks", advwell_db_address="10.0.0.2")
BAD_MONITORING = [
    ("threshold above 100", {"monitoring_disk_warning_percent": 120},
     "monitoring_disk_warning_percent: '120' must be a percentage between 0 and 100"),
    ("threshold zero", {"monitoring_cpu_warning_percent": 0},
     "monitoring_cpu_warning_percent: '0' must be a percentage between 0 and 100"),
    ("warning above critical", {"monitoring_memory_warning_percent": 95},
     "monitoring_memory_warning_percent (95) must be below monitoring_memory_critical_percent (90)"),
    ("unknown severity", {"monitoring_severities": ["critical", "warning", "page"], "monitoring_routes": {
        "critical": "default", "warning": "default", "page": "default"}},
     "severity 'page' must be one of critical, warning, info"),
    ("severity routed to an unknown receiver", {"monitoring_routes": {"critical": "oncall", "warning": "default"}},
     "severity 'critical' must be one of critical, warning, info, and be routed to a receiver named in "
     "monitoring_receivers (default); it is routed to 'oncall'"),
    ("webhook without its url", {"monitoring_receivers": [{"name": "default", "webhook": {}}]},
     "monitoring_receivers: receiver 'default': webhook needs its url (http or https)"),
    ("email without its address", {"monitoring_receivers": [
        {"name": "default", "email": {"smarthost": "smtp.example.com:587", "auth_password": "s3cret-smtp"}}]},
     "monitoring_receivers: receiver 'default': email needs its to address"),
    ("telegram without its chat", {"monitoring_receivers": [{"name": "default", "telegram": {"bot_token": "123:s3cret-bot"}}]},
     "monitoring_receivers: receiver 'default': telegram needs its numeric chat_id"),
    ("scrape target without a port", {"monitoring_db_node_target": "10.0.0.2"},
     "monitoring_db_node_target: '10.0.0.2' is not host:port"),
    ("extra target as a URL", {"monitoring_extra_scrape_targets": [{"job": "blackbox", "targets": ["http://10.0.0.5:9115"]}]},
     "monitoring_extra_scrape_targets: 'http://10.0.0.5:9115' is not host:port"),
    ("wait not a duration", {"monitoring_alert_for": {"postgres_down": "one minute"}},
     "monitoring_alert_for: postgres_down 'one minute' is not a duration"),
    ("capacity hold zero", {"monitoring_capacity_connection_seconds": 0},
     "monitoring_capacity_connection_seconds: '0' must be a number above 0"),
    ("capacity headroom negative", {"monitoring_capacity_headroom_min": -1.5},
     "monitoring_capacity_headroom_min: '-1.5' must be a number above 0"),
]


@pytest.mark.parametrize("host,message", cases("monitoring", BAD_MONITORING))
def test_monitoring_rejects_bad_input(outcome, host, message):
    assert_rejected_before_changes(outcome, host, message)
    assert "s3cret" not in json.dumps(outcome[0][host])


entry_point("capacity", "capacity", "main", "Measure the generator's own ceiling",
            capacity_url="http://127.0.0.1:8080/api/companies/1/clients")
BAD_CAPACITY = [
    ("rate zero", {"capacity_rates": [0, 10]}, "capacity_rates: every rate must be above 0, got 0"),
    ("rate above the bound", {"capacity_rates": [10, 5000]}, "capacity_rates: 5000 req/s is above capacity_max_rate 2000"),
    ("sweep past the time bound", {"capacity_step_seconds": 1000},
     "above capacity_max_seconds 900"),
    ("production URL unconfirmed", {"capacity_url": "https://api.example.com/api/companies/1/clients"},
     "capacity_url: https://api.example.com/api/companies/1/clients is not a lab address"),
    ("production URL confirmed with another", {"capacity_url": "https://api.example.com/api/x",
                                               "capacity_confirm_url": "https://api.example.com/"},
     "set capacity_confirm_url to the same URL"),
    ("not a URL", {"capacity_url": "api.example.com"}, "capacity_url: api.example.com is not an http:// or https:// URL"),
    ("factor not rising", {"capacity_sweep_factor": 1}, "capacity_sweep_start: must be above 0, and capacity_sweep_factor above 1"),
    ("no office rate", {"capacity_office_peak_rps": 0}, "capacity_office_peak_rps: must be above 0"),
    ("no probe", {"capacity_probe_requests": 0}, "capacity_probe_requests: must be at least 1"),
]


@pytest.mark.parametrize("host,message", cases("capacity", BAD_CAPACITY))
def test_capacity_rejects_bad_input_before_any_request(outcome, host, message):
    assert_rejected_before_changes(outcome, host, message)
    assert "Nothing was sent" in outcome[0][host][-1]["error"]


entry_point("status", "status", "main", "Ask whether the host answers")
BAD_STATUS = [
    ("gate above 100", {"status_fail_below": 101}, "status_fail_below: must be from 0 to 100, got 101"),
    ("phase without a title", {"status_phases": [4, 9]}, "status_phases: 4, 9 must be phases with a title in status_titles"),
    ("no offices", {"status_offices": 0}, "status_offices: must be more than 0, got 0"),
    ("phase not a number", {"status_phases": ["four"]}, "status_phases"),
]


@pytest.mark.parametrize("host,message", cases("status", BAD_STATUS))
def test_status_rejects_bad_input_before_any_check(outcome, host, message):
    assert_rejected_before_changes(outcome, host, message)


def test_no_secret_of_a_case_is_shown(outcome):
    """The monitoring receivers' secrets and the DATABASE_URL's password appear nowhere in the run's output."""
    assert "s3cret" not in outcome[1]
    assert "pw@" not in outcome[1]
