"""Each service fixture proves it starts a real, working service."""
import subprocess
import uuid
from contextlib import closing

import psycopg2
import pytest


def test_postgres_fixture_serves_queries_with_password_auth(postgres_server, postgres_db):
    with closing(postgres_server.connect(postgres_db)) as conn, conn.cursor() as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        cur.execute("CREATE TABLE t (id int)")
        cur.execute("INSERT INTO t SELECT generate_series(1, 100)")
        cur.execute("SELECT count(*) FROM t")
        assert cur.fetchone()[0] == 100
        cur.execute("SELECT count(*) >= 1 FROM pg_stat_statements")
        assert cur.fetchone()[0] is True
    wrong = postgres_server.dsn(postgres_db).replace(postgres_server.password, "wrong")
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(wrong)


def test_s3_fixture_stores_lists_and_returns_objects(s3_server, s3_bucket):
    client = s3_server.client()
    for index in range(5):
        client.put_object(Bucket=s3_bucket, Key=f"backups/{index}.gz", Body=b"x" * index)
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=s3_bucket, Prefix="backups/", PaginationConfig={"PageSize": 2})
    keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
    assert keys == [f"backups/{index}.gz" for index in range(5)]
    assert client.get_object(Bucket=s3_bucket, Key="backups/3.gz")["Body"].read() == b"xxx"
    result = client.delete_objects(Bucket=s3_bucket, Delete={"Objects": [{"Key": "backups/0.gz"}]})
    assert [d["Key"] for d in result["Deleted"]] == ["backups/0.gz"]


def test_s3_fixture_rejects_wrong_credentials(s3_server, s3_bucket):
    client = s3_server.client()
    client._request_signer._credentials.secret_key = "wrong"
    with pytest.raises(Exception, match="SignatureDoesNotMatch|AccessDenied|InvalidAccessKeyId"):
        client.list_objects_v2(Bucket=s3_bucket)


@pytest.mark.docker
def test_swarm_fixture_runs_services_on_its_own_engine(swarm_manager):
    nodes = swarm_manager.docker("node", "ls", "--format", "{{.ManagerStatus}} {{.Status}}").stdout
    assert nodes.split() == ["Leader", "Ready"]
    swarm_manager.load_image("advwell/debian:bookworm")
    service = f"fixture-{uuid.uuid4().hex[:6]}"
    swarm_manager.docker("service", "create", "--detach=false", "--name", service, "--replicas", "2",
                         "advwell/debian:bookworm", "sleep", "infinity", timeout=180)
    running = swarm_manager.docker("service", "ps", service, "--filter", "desired-state=running",
                                   "--format", "{{.CurrentState}}").stdout.splitlines()
    assert len(running) == 2 and all(state.startswith("Running") for state in running)
    swarm_manager.docker("service", "rm", service)


@pytest.mark.docker
def test_swarm_fixture_leaves_the_machine_engine_alone(swarm_manager):
    outer = subprocess.run(["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"],
                           check=True, capture_output=True, text=True).stdout.strip()
    assert outer == "inactive"
