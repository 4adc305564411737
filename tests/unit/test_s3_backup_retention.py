"""The decisions of advwell.platform.s3_backup_retention on listings and lifecycle rules shaped
like the ones S3 returns (ListObjectsV2 Contents, GetBucketLifecycleConfiguration Rules)."""
from datetime import datetime, timedelta, timezone

import pytest

from ansible_collections.advwell.platform.plugins.module_utils.s3_backup_retention import (
    backup_objects, batch_outcome, batches, merge_rule, param_errors, parse_time, prune, rule_id,
    select_expired, wanted_rule)

NOW = datetime(2026, 11, 29, 3, 0, tzinfo=timezone.utc)
PREFIX = "backups/postgresql/"


def backup(days_old, name=None, hours=0):
    modified = NOW - timedelta(days=days_old, hours=hours)
    return {"Key": PREFIX + (name or f"advwell-{modified:%Y%m%dT%H%M}.dump"), "LastModified": modified}


def params(**overrides):
    found = dict(bucket="advwell-app", prefix=PREFIX, allow_whole_bucket=False, days=14, min_keep=3,
                 lifecycle_days=None, batch_size=1000, page_size=1000, now=None, key_regex=None)
    found.update(overrides)
    return found


def test_deletes_objects_older_than_days_oldest_first():
    objects = [backup(age) for age in (0, 1, 15, 20, 30)]
    assert select_expired(objects, NOW, days=14, min_keep=0) == [
        objects[4]["Key"], objects[3]["Key"], objects[2]["Key"]]


def test_an_object_exactly_days_old_is_kept_and_one_a_second_older_is_not():
    exact = backup(14, "exact")
    older = {"Key": PREFIX + "older", "LastModified": exact["LastModified"] - timedelta(seconds=1)}
    assert select_expired([exact, older], NOW, days=14, min_keep=0) == [older["Key"]]


def test_min_keep_protects_the_newest_even_when_all_are_old():
    # A week of failed backups: the last good one is 20 days old.
    objects = [backup(age) for age in (20, 21, 22, 23, 24)]
    assert select_expired(objects, NOW, days=14, min_keep=2) == [objects[4]["Key"], objects[3]["Key"],
                                                                 objects[2]["Key"]]


def test_min_keep_larger_than_the_count_deletes_nothing():
    objects = [backup(age) for age in (30, 40, 50)]
    assert select_expired(objects, NOW, days=1, min_keep=3) == []
    assert select_expired(objects, NOW, days=1, min_keep=10) == []


def test_min_keep_counts_young_objects_too():
    objects = [backup(0), backup(1), backup(30), backup(31)]
    assert select_expired(objects, NOW, days=14, min_keep=3) == [objects[3]["Key"]]


def test_equal_times_the_greater_key_counts_as_newer():
    same = NOW - timedelta(days=30)
    objects = [{"Key": PREFIX + name, "LastModified": same} for name in ("b", "c", "a")]
    assert select_expired(objects, NOW, days=14, min_keep=1) == [PREFIX + "a", PREFIX + "b"]
    assert select_expired(list(reversed(objects)), NOW, days=14, min_keep=1) == [PREFIX + "a", PREFIX + "b"]


def test_empty_listing_and_days_zero():
    assert select_expired([], NOW, days=0, min_keep=0) == []
    objects = [backup(0, "now"), backup(0, "hour-ago", hours=1)]
    assert select_expired(objects, NOW, days=0, min_keep=0) == [PREFIX + "hour-ago"]


def test_batches_never_exceed_the_size():
    keys = [f"k{index}" for index in range(2501)]
    split = batches(keys, 1000)
    assert [len(batch) for batch in split] == [1000, 1000, 501]
    assert sum(split, []) == keys
    assert batches([], 1000) == []
    assert batches(keys[:1000], 1000) == [keys[:1000]]


def test_batch_outcome_reports_per_key_errors():
    batch = ["a", "b", "c"]
    response = {"Errors": [{"Key": "b", "Code": "AccessDenied", "Message": "Access Denied"}]}
    assert batch_outcome(batch, response) == (
        ["a", "c"], [{"key": "b", "code": "AccessDenied", "message": "Access Denied"}])
    assert batch_outcome(batch, {"ResponseMetadata": {}}) == (batch, [])


@pytest.mark.parametrize("overrides, parameter", [
    ({"prefix": ""}, "prefix"),
    ({"days": -1}, "days"),
    ({"min_keep": -1}, "min_keep"),
    ({"batch_size": 1001}, "batch_size"),
    ({"batch_size": 0}, "batch_size"),
    ({"page_size": 1001}, "page_size"),
    ({"lifecycle_days": 14}, "lifecycle_days"),
    ({"lifecycle_days": 3}, "lifecycle_days"),
    ({"now": "yesterday"}, "now"),
    ({"bucket": ""}, "bucket"),
])
def test_bad_input_is_refused_naming_the_parameter(overrides, parameter):
    errors = param_errors(params(**overrides))
    assert len(errors) == 1 and errors[0].startswith(parameter + " "), errors


def test_good_input_and_whole_bucket_when_allowed():
    assert param_errors(params()) == []
    assert param_errors(params(prefix="", allow_whole_bucket=True, days=0, min_keep=0, lifecycle_days=1,
                               batch_size=1, now="2026-11-29T03:00:00Z")) == []


def test_now_is_utc_unless_an_offset_is_given():
    assert parse_time("2026-11-29T03:00:00Z") == NOW
    assert parse_time("2026-11-29T03:00:00") == NOW
    assert parse_time("2026-11-29T04:00:00+01:00") == NOW


def test_rule_ids_are_readable_and_tell_similar_prefixes_apart():
    assert rule_id(PREFIX).startswith("advwell-retention-backups-postgresql-")
    assert rule_id("a/b") != rule_id("a-b")
    assert rule_id("").startswith("advwell-retention-") and len(rule_id("")) == len("advwell-retention-") + 8
    assert len(rule_id("x" * 1024)) <= 255


def other_rule():
    return {"ID": "logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled", "Expiration": {"Days": 5},
            "Transitions": [{"Days": 1, "StorageClass": "GLACIER"}]}


def test_merge_adds_the_rule_and_keeps_the_others():
    rule = wanted_rule(PREFIX, 30)
    assert merge_rule([], rule) == ([rule], True)
    assert merge_rule([other_rule()], rule) == ([other_rule(), rule], True)


def test_merge_is_unchanged_when_the_rule_is_there_as_the_store_returns_it():
    rule = wanted_rule(PREFIX, 30)
    # As a store may return it: an empty field added, keys in another order.
    stored = {"Status": "Enabled", "Expiration": {"Days": 30}, "ID": rule["ID"],
              "Filter": {"Prefix": PREFIX}, "NoncurrentVersionTransitions": []}
    assert merge_rule([other_rule(), stored], rule) == ([other_rule(), stored], False)
    legacy = {"ID": rule["ID"], "Prefix": PREFIX, "Status": "Enabled", "Expiration": {"Days": 30}}
    assert merge_rule([legacy], rule) == ([legacy], False)


@pytest.mark.parametrize("change", [
    {"Expiration": {"Days": 60}},
    {"Status": "Disabled"},
    {"Filter": {"Prefix": "backups/"}},
    {"AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}},
])
def test_merge_replaces_a_different_rule_with_the_same_id_in_place(change):
    rule = wanted_rule(PREFIX, 30)
    stored = dict(rule, **change)
    assert merge_rule([stored, other_rule()], rule) == ([rule, other_rule()], True)


def test_whole_bucket_rule_matches_an_empty_filter():
    rule = wanted_rule("", 30)
    assert merge_rule([dict(rule, Filter={})], rule)[1] is False


BACKUP_REGEX = r"advwell-advtom-[0-9]{8}T[0-9]{6}Z\.tar(\.age)?"


def test_only_backup_objects_count_toward_min_keep_and_only_they_are_deleted():
    backups = [backup(age, f"advwell-advtom-{NOW - timedelta(days=age):%Y%m%dT%H%M%S}Z.tar.age")
               for age in (20, 21, 22)]
    # Newer objects that are not backups: without the regex they would take the kept places.
    others = [backup(0, "README.txt"), backup(1, "manual-copy.tar"), backup(30, "deeper/advwell-advtom-x.tar"),
              backup(40, "advwell-advtom-20261001T030000Z.tar.age.partial")]
    objects = backups + others
    assert backup_objects(objects, PREFIX, BACKUP_REGEX) == backups
    assert select_expired(backup_objects(objects, PREFIX, BACKUP_REGEX), NOW, days=14, min_keep=2) == [
        backups[2]["Key"]]
    # Without it every object is a backup (the module's default).
    assert backup_objects(objects, PREFIX) == objects
    assert backups[0]["Key"] in select_expired(objects, NOW, days=14, min_keep=2)


class FakeS3:
    """A client's list_objects_v2 paginator and delete_objects over a dict, counting requests."""

    def __init__(self, objects, refuse=()):
        self.objects = {item["Key"]: item for item in objects}
        self.refuse, self.pages, self.deletes = set(refuse), [], []

    def get_paginator(self, name):
        assert name == "list_objects_v2"
        return self

    def paginate(self, Bucket, Prefix, PaginationConfig):
        size = PaginationConfig["PageSize"]
        keys = sorted(key for key in self.objects if key.startswith(Prefix))
        for start in range(0, len(keys), size):
            self.pages.append(len(keys[start:start + size]))
            yield {"Contents": [self.objects[key] for key in keys[start:start + size]]}

    def delete_objects(self, Bucket, Delete):
        keys = [item["Key"] for item in Delete["Objects"]]
        assert Delete["Quiet"] is True and len(keys) <= 1000
        self.deletes.append(len(keys))
        for key in keys:
            if key not in self.refuse:
                del self.objects[key]
        return {"Errors": [{"Key": key, "Code": "AccessDenied", "Message": "no"} for key in keys if key in self.refuse]}


def many_backups(count):
    return [backup(30, f"advwell-advtom-2026{1 + index // 672 % 11:02d}{1 + index // 24 % 28:02d}T{index % 24:02d}0000Z.tar.age",
                   hours=-index / 1000) for index in range(count)]


def test_prune_lists_in_pages_and_deletes_in_batches_of_at_most_1000():
    objects = many_backups(2505) + [backup(40, "notes.txt")]
    client = FakeS3(objects)
    result = prune(client, "advwell-app", PREFIX, NOW, days=14, min_keep=7, key_regex=BACKUP_REGEX)
    assert client.pages == [1000, 1000, 506]
    assert client.deletes == [1000, 1000, 498]
    assert (result["examined"], result["backups"], len(result["deleted"]), result["requests"]) == (2506, 2505, 2498, 6)
    assert result["kept"] == 8 and result["errors"] == [] and result["stage"] == "done"
    assert sorted(client.objects) == sorted([item["Key"] for item in objects[2498:2505]] + [PREFIX + "notes.txt"])


def test_prune_in_check_mode_deletes_nothing_and_reports_the_same_keys():
    objects = many_backups(30)
    client = FakeS3(objects)
    checked = prune(client, "b", PREFIX, NOW, days=14, min_keep=3, page_size=7, check_mode=True)
    assert client.deletes == [] and len(client.objects) == 30 and client.pages == [7, 7, 7, 7, 2]
    real = prune(FakeS3(objects), "b", PREFIX, NOW, days=14, min_keep=3, batch_size=10)
    assert checked["deleted"] == real["deleted"] and len(real["deleted"]) == 27


def test_prune_reports_refused_keys_and_how_far_it_got():
    objects = many_backups(5)
    client = FakeS3(objects, refuse=[objects[0]["Key"]])
    result = prune(client, "b", PREFIX, NOW, days=14, min_keep=0)
    assert [error["key"] for error in result["errors"]] == [objects[0]["Key"]]
    assert len(result["deleted"]) == 4

    class Broken(FakeS3):
        def delete_objects(self, Bucket, Delete):
            raise ConnectionError("S3 went away")
    partial = {}
    with pytest.raises(ConnectionError):
        prune(Broken(objects), "b", PREFIX, NOW, days=14, min_keep=0, result=partial)
    assert partial["stage"] == "delete" and partial["examined"] == 5 and partial["deleted"] == []


def test_a_bad_key_regex_is_refused_naming_the_parameter():
    errors = param_errors(params(key_regex="advwell-(["))
    assert len(errors) == 1 and errors[0].startswith("key_regex "), errors
