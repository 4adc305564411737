"""advwell.platform.s3_backup_retention against a real S3 server (SeaweedFS on loopback), run
by ansible-playbook on this machine.

How age is tested: S3 sets LastModified itself, so objects cannot be backdated. The tests
upload an "old" group, wait until the server's clock has moved on, upload a "new" group, and
read the LastModified the server gave each object. The module then runs with `now` (a
documented option for tests and replays) set to `days` days after a moment between the two
groups, so the old group is really more than `days` days old at `now` and the new group is
not; the ages come from the server's timestamps, only the clock is moved. Tests that need no
particular age use the real clock with days=0 (everything uploaded before the run is old).
"""
import base64
import hashlib
import json
import math
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import yaml

from ansible_collections.advwell.platform.plugins.modules import s3_backup_retention
from tests.fixtures.s3 import LIMITED_ACCESS_KEY, LIMITED_BUCKET, LIMITED_SECRET_KEY, LIMITED_WRITABLE
from tests.integration.ansible_run import ansible, run_module

MODULE = "advwell.platform.s3_backup_retention"
PREFIX = "backups/postgresql/"


def run(tmp_path, s3_server, check_mode=False, verbosity="-v", credentials=True, **args):
    args.setdefault("prefix", PREFIX)
    args.update(endpoint_url=s3_server.endpoint_url, region=s3_server.region)
    if credentials:
        args.update(access_key=s3_server.access_key, secret_key=s3_server.secret_key)
    return run_module(tmp_path, MODULE, args, check_mode=check_mode, verbosity=verbosity)[0]


def upload(client, bucket, keys, workers=1):
    """In the order given unless `workers` > 1, so that a later key is never older."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda key: client.put_object(Bucket=bucket, Key=key, Body=b"dump"), keys))


def listing(client, bucket, prefix=PREFIX):
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {item["Key"]: item["LastModified"] for page in pages for item in page.get("Contents", [])}


def old_and_new(client, bucket, old, new):
    """Uploads `old` then `new` keys a server-clock second apart; returns a moment between them."""
    upload(client, bucket, old)
    last_old = max(listing(client, bucket)[key] for key in old)
    time.sleep(1.1)
    upload(client, bucket, new)
    first_new = min(listing(client, bucket)[key] for key in new)
    assert first_new > last_old
    return last_old + (first_new - last_old) / 2


def test_prunes_by_age_at_the_given_time(tmp_path, s3_server, s3_bucket):
    client = s3_server.client()
    old = [f"{PREFIX}old-{index}.dump" for index in range(3)]
    new = [f"{PREFIX}new-{index}.dump" for index in range(2)]
    between = old_and_new(client, s3_bucket, old, new)
    client.put_object(Bucket=s3_bucket, Key="backups/redis/old.rdb", Body=b"other prefix")

    # By the real clock everything is minutes old: nothing is 7 days old.
    result = run(tmp_path, s3_server, bucket=s3_bucket, days=7, min_keep=0)
    assert (result["changed"], result["deleted"], result["examined"]) == (False, [], 5)

    now = (between + timedelta(days=7)).isoformat()
    result = run(tmp_path, s3_server, bucket=s3_bucket, days=7, min_keep=0, now=now)
    assert result["changed"] is True
    assert sorted(result["deleted"]) == old
    assert (result["kept"], result["examined"], result["errors"]) == (2, 5, [])
    assert sorted(listing(client, s3_bucket, "backups/")) == new + ["backups/redis/old.rdb"]

    result = run(tmp_path, s3_server, bucket=s3_bucket, days=7, min_keep=0, now=now)
    assert (result["changed"], result["deleted"], result["kept"]) == (False, [], 2)


def test_min_keep_protects_the_newest_whatever_their_age(tmp_path, s3_server, s3_bucket):
    client = s3_server.client()
    keys = [f"{PREFIX}advwell-2026-11-{day:02d}.dump" for day in range(1, 6)]
    upload(client, s3_bucket, keys)
    later = (max(listing(client, s3_bucket).values()) + timedelta(days=30)).isoformat()

    result = run(tmp_path, s3_server, bucket=s3_bucket, days=7, min_keep=2, now=later)
    # All five are 30 days old; the two newest (uploaded last) stay.
    assert result["deleted"] == keys[:3]
    assert sorted(listing(client, s3_bucket)) == keys[3:]

    result = run(tmp_path, s3_server, bucket=s3_bucket, days=7, min_keep=2, now=later)
    assert (result["changed"], result["deleted"], result["kept"]) == (False, [], 2)
    result = run(tmp_path, s3_server, bucket=s3_bucket, days=7, min_keep=5, now=later)
    assert (result["changed"], result["deleted"]) == (False, [])


def test_check_mode_returns_the_keys_of_the_real_run_and_deletes_nothing(tmp_path, s3_server, s3_bucket):
    client = s3_server.client()
    old = [f"{PREFIX}{index:02d}.dump" for index in range(12)]
    new = [f"{PREFIX}new.dump"]
    between = old_and_new(client, s3_bucket, old, new)
    args = dict(bucket=s3_bucket, days=3, min_keep=4, now=(between + timedelta(days=3)).isoformat())

    checked = run(tmp_path, s3_server, check_mode=True, **args)
    assert checked["changed"] is True
    assert sorted(listing(client, s3_bucket)) == old + new
    assert sorted(checked["deleted"]) == old[:9]  # the new one and the 3 newest old ones stay

    done = run(tmp_path, s3_server, **args)
    assert done["deleted"] == checked["deleted"]
    assert (done["kept"], done["examined"]) == (checked["kept"], checked["examined"]) == (4, 13)
    assert sorted(listing(client, s3_bucket)) == old[9:] + new


def test_many_objects_are_listed_in_pages_and_deleted_in_batches(tmp_path, s3_server, s3_bucket):
    client = s3_server.client()
    count, page_size, min_keep = 2600, 400, 95
    keys = [f"{PREFIX}{index:05d}.dump" for index in range(count)]
    upload(client, s3_bucket, keys, workers=8)
    client.put_object(Bucket=s3_bucket, Key="outside/keep.dump", Body=b"x")

    started = time.monotonic()
    result = run(tmp_path, s3_server, bucket=s3_bucket, days=0, min_keep=min_keep, page_size=page_size)
    seconds = time.monotonic() - started
    removed = count - min_keep
    assert len(result["deleted"]) == len(set(result["deleted"])) == removed
    assert (result["examined"], result["kept"], result["errors"]) == (count, min_keep, [])
    pages = math.ceil(count / page_size)
    # An empty last page is allowed: some stores only find out there is nothing more by asking.
    assert result["requests"] in (pages + math.ceil(removed / 1000), pages + 1 + math.ceil(removed / 1000))
    remaining = listing(client, s3_bucket, "")
    assert len(remaining) == min_keep + 1 and "outside/keep.dump" in remaining
    assert set(remaining) - {"outside/keep.dump"} == set(result["deleted"]).symmetric_difference(keys)
    print(f"{count} objects examined, {removed} deleted, {result['requests']} requests, {seconds:.1f}s")

    result = run(tmp_path, s3_server, bucket=s3_bucket, days=0, min_keep=min_keep, batch_size=7)
    assert (result["changed"], result["deleted"], result["examined"]) == (False, [], min_keep)
    assert result["requests"] == 1


def test_small_batches(tmp_path, s3_server, s3_bucket):
    client = s3_server.client()
    keys = [f"{PREFIX}{index:02d}.dump" for index in range(25)]
    upload(client, s3_bucket, keys)
    result = run(tmp_path, s3_server, bucket=s3_bucket, days=0, min_keep=0, batch_size=10, page_size=7)
    assert sorted(result["deleted"]) == keys
    assert result["requests"] in (4 + 3, 5 + 3)
    assert listing(client, s3_bucket) == {}


@pytest.fixture
def limited_bucket(s3_server):
    """The bucket where the fixture's limited identity may delete only keys under `writable/`."""
    client = s3_server.client()
    client.create_bucket(Bucket=LIMITED_BUCKET)
    yield LIMITED_BUCKET
    for key in listing(client, LIMITED_BUCKET, ""):
        client.delete_object(Bucket=LIMITED_BUCKET, Key=key)
    client.delete_bucket(Bucket=LIMITED_BUCKET)


def test_keys_the_store_refuses_are_reported_and_fail_the_task(tmp_path, s3_server, limited_bucket):
    client = s3_server.client()
    keys = [f"{LIMITED_WRITABLE}0.dump", "wlocked/1.dump", f"{LIMITED_WRITABLE}2.dump", "wlocked/3.dump",
            f"{LIMITED_WRITABLE}4.dump"]
    upload(client, limited_bucket, keys)
    result = run(tmp_path, s3_server, credentials=False, bucket=limited_bucket, prefix="w", days=0,
                 min_keep=0, batch_size=2, access_key=LIMITED_ACCESS_KEY, secret_key=LIMITED_SECRET_KEY)
    assert result["failed"] is True
    assert result["msg"].startswith("2 of 5 keys under s3://limited-writes/w could not be deleted (3 were): "
                                    "wlocked/1.dump: AccessDenied"), result["msg"]
    assert result["deleted"] == keys[0::2]
    assert [(error["key"], error["code"]) for error in result["errors"]] == [
        ("wlocked/1.dump", "AccessDenied"), ("wlocked/3.dump", "AccessDenied")]
    assert (result["requests"], result["kept"]) == (1 + 3, 2)  # every batch was sent
    assert sorted(listing(client, limited_bucket, "")) == ["wlocked/1.dump", "wlocked/3.dump"]


@pytest.mark.parametrize("args, parameter", [
    ({"prefix": ""}, "prefix"),
    ({"days": -1}, "days"),
    ({"min_keep": -1}, "min_keep"),
    ({"batch_size": 1001}, "batch_size"),
    ({"lifecycle_days": 7}, "lifecycle_days"),
])
def test_bad_input_is_refused_naming_the_parameter(tmp_path, s3_server, s3_bucket, args, parameter):
    s3_server.client().put_object(Bucket=s3_bucket, Key=PREFIX + "a.dump", Body=b"x")
    result = run(tmp_path, s3_server, **dict(dict(bucket=s3_bucket, days=7, min_keep=0), **args))
    assert result["failed"] is True
    assert result["msg"].startswith(parameter + " "), result["msg"]
    assert list(listing(s3_server.client(), s3_bucket)) == [PREFIX + "a.dump"]


def test_whole_bucket_when_allowed(tmp_path, s3_server, s3_bucket):
    client = s3_server.client()
    upload(client, s3_bucket, ["a.dump", "b/c.dump"])
    result = run(tmp_path, s3_server, bucket=s3_bucket, prefix="", allow_whole_bucket=True, days=0,
                 min_keep=1)
    assert result["deleted"] == ["a.dump"]


def test_credentials_stay_out_of_the_output(tmp_path, s3_server, s3_bucket):
    s3_server.client().put_object(Bucket=s3_bucket, Key=PREFIX + "a.dump", Body=b"x")
    args = dict(bucket=s3_bucket, days=0, min_keep=0, session_token="advwell-session-token-value")
    # A session token SeaweedFS does not expect makes the request fail, so run twice: once
    # failing with the token, once succeeding without it; neither shows a secret.
    _result, play = run_module(tmp_path, MODULE, dict(args, prefix=PREFIX, endpoint_url=s3_server.endpoint_url,
                                                      access_key=s3_server.access_key,
                                                      secret_key=s3_server.secret_key), verbosity="-vvv")
    assert s3_server.secret_key not in play.stdout + play.stderr
    assert "advwell-session-token-value" not in play.stdout + play.stderr
    del args["session_token"]
    result, play = run_module(tmp_path, MODULE, dict(args, prefix=PREFIX, endpoint_url=s3_server.endpoint_url,
                                                     access_key=s3_server.access_key,
                                                     secret_key=s3_server.secret_key), verbosity="-vvv")
    assert result["deleted"] == [PREFIX + "a.dump"], result
    assert s3_server.secret_key not in play.stdout + play.stderr
    # The invocation is shown, the value masked: the checks above looked where it would be.
    # (One token: the callback's folding cannot split it.)
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in play.stdout


def test_credentials_from_the_environment(tmp_path, s3_server, s3_bucket, monkeypatch):
    s3_server.client().put_object(Bucket=s3_bucket, Key=PREFIX + "a.dump", Body=b"x")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    result = run(tmp_path, s3_server, credentials=False, bucket=s3_bucket, days=0, min_keep=0)
    assert result["deleted"] == [PREFIX + "a.dump"], result
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    result = run(tmp_path, s3_server, credentials=False, bucket=s3_bucket, days=0, min_keep=0)
    assert result["failed"] is True and "cannot list" in result["msg"]


def test_lifecycle_rule_is_added_next_to_other_rules_and_idempotent(tmp_path, s3_server, s3_bucket):
    client = s3_server.client()
    other = {"ID": "logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled", "Expiration": {"Days": 5}}
    client.put_bucket_lifecycle_configuration(Bucket=s3_bucket, LifecycleConfiguration={"Rules": [other]})
    args = dict(bucket=s3_bucket, days=7, min_keep=3, lifecycle_days=30)

    checked = run(tmp_path, s3_server, check_mode=True, **args)
    assert (checked["changed"], checked["lifecycle_changed"]) == (True, True)
    assert client.get_bucket_lifecycle_configuration(Bucket=s3_bucket)["Rules"] == [other]

    result = run(tmp_path, s3_server, **args)
    rule = result["lifecycle_rule"]
    assert (result["changed"], result["lifecycle_changed"], result["deleted"]) == (True, True, [])
    assert rule == {"ID": rule["ID"], "Filter": {"Prefix": PREFIX}, "Status": "Enabled",
                    "Expiration": {"Days": 30}}
    assert rule["ID"].startswith("advwell-retention-backups-postgresql-")
    assert client.get_bucket_lifecycle_configuration(Bucket=s3_bucket)["Rules"] == [other, rule]

    result = run(tmp_path, s3_server, **args)
    assert (result["changed"], result["lifecycle_changed"]) == (False, False)

    result = run(tmp_path, s3_server, **(args | {"lifecycle_days": 45}))
    assert (result["changed"], result["lifecycle_changed"]) == (True, True)
    assert client.get_bucket_lifecycle_configuration(Bucket=s3_bucket)["Rules"] == [
        other, dict(rule, Expiration={"Days": 45})]


def test_delete_objects_carries_content_md5_and_the_store_accepts_it(s3_server, s3_bucket):
    """The module's client, with the installed botocore, against SeaweedFS."""
    client = s3_backup_retention.s3_client(dict(
        endpoint_url=s3_server.endpoint_url, region=s3_server.region, addressing_style="auto",
        access_key=s3_server.access_key, secret_key=s3_server.secret_key, session_token=None))
    sent = []
    client.meta.events.register("before-send.s3.DeleteObjects", lambda request, **_: sent.append(request))
    client.put_object(Bucket=s3_bucket, Key="a", Body=b"x")
    response = client.delete_objects(Bucket=s3_bucket, Delete={"Objects": [{"Key": "a"}], "Quiet": True})
    assert not response.get("Errors")
    headers = sent[0].headers
    expected = base64.b64encode(hashlib.md5(sent[0].body).digest()).decode()
    assert headers["Content-MD5"].decode() == expected
    assert listing(client, s3_bucket, "") == {}


def test_ansible_doc_renders_and_matches_the_argument_spec():
    shown = ansible("ansible-doc", MODULE)
    assert shown.returncode == 0 and "ERROR" not in shown.stderr, shown.stderr
    # What it says is read from the JSON: the text render folds lines at the terminal's width.
    doc = json.loads(ansible("ansible-doc", "--json", MODULE).stdout)[MODULE]
    assert "amazon.aws.s3_object" in [also["module"] for also in doc["doc"]["seealso"]]
    assert doc["return"], "no RETURN documentation"
    options = doc["doc"]["options"]
    spec = s3_backup_retention.argument_spec()
    assert set(options) == set(spec)
    for name, option in spec.items():
        documented = options[name]
        assert documented["type"] == option["type"], name
        assert documented.get("default") == option.get("default"), name
        assert documented.get("required", False) == option.get("required", False), name
        assert documented.get("choices") == option.get("choices"), name
    assert {name for name, option in spec.items() if option.get("no_log")} == {
        "access_key", "secret_key", "session_token"}
    assert {"deleted", "kept", "examined", "requests", "errors", "lifecycle_rule"} <= set(doc["return"])
    for task in yaml.safe_load(doc["examples"]):
        if MODULE in task:
            assert set(task[MODULE]) <= set(options), task
