"""Which backups under an S3 prefix to delete, decided from plain data.

Everything here works on the dicts S3's ListObjectsV2 returns (Key, LastModified as an
aware datetime) and on lifecycle rules shaped like GetBucketLifecycleConfiguration's, so
it is tested without a server. prune() makes the API calls through a boto3 client given
to it: the module advwell.platform.s3_backup_retention and the backup job's host-side tool
(roles/db_backup/files/advwell-backup-tool.py, which gets this file installed beside it)
both prune with it, so production's daily retention is the module's code.
"""
import base64
import hashlib
import re
from datetime import datetime, timedelta, timezone

MAX_DELETE_BATCH = 1000  # DeleteObjects accepts at most 1000 keys per request
MAX_PAGE_SIZE = 1000  # ListObjectsV2 returns at most 1000 keys per page
RULE_ID_PREFIX = "advwell-retention-"


def param_errors(params):
    """Messages (each naming its parameter) for inputs the module refuses."""
    errors = []
    if not params.get("bucket"):
        errors.append("bucket must not be empty")
    if not params.get("prefix") and not params.get("allow_whole_bucket"):
        errors.append("prefix is empty, which means every object of the bucket; "
                      "set allow_whole_bucket=true if that is what you want")
    for name in ("days", "min_keep"):
        if params[name] < 0:
            errors.append(f"{name} must be 0 or more, got {params[name]}")
    for name, limit in (("batch_size", MAX_DELETE_BATCH), ("page_size", MAX_PAGE_SIZE)):
        if not 1 <= params[name] <= limit:
            errors.append(f"{name} must be from 1 to {limit}, got {params[name]}")
    if params.get("key_regex"):
        try:
            re.compile(params["key_regex"])
        except re.error as error:
            errors.append(f"key_regex is not a valid regular expression: {error}")
    lifecycle_days = params.get("lifecycle_days")
    if lifecycle_days is not None and lifecycle_days <= params["days"]:
        errors.append(f"lifecycle_days ({lifecycle_days}) must be more than days ({params['days']}): "
                      f"the lifecycle rule is a backstop and must not expire what the module keeps")
    if params.get("now"):
        try:
            parse_time(params["now"])
        except ValueError as error:
            errors.append(f"now is not an ISO 8601 timestamp: {error}")
    return errors


def parse_time(text):
    """An aware datetime from ISO 8601 text; without an offset the time is UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def newest_first(objects):
    """Newest LastModified first; among equal times the greater key counts as newer (backup
    names that embed a timestamp sort that way)."""
    return sorted(objects, key=lambda item: (item["LastModified"], item["Key"]), reverse=True)


def select_expired(objects, now, days, min_keep):
    """Keys to delete: older than `days` days at `now`, except the `min_keep` newest objects.

    An object exactly `days` old is kept. The result is ordered oldest first.
    """
    cutoff = now - timedelta(days=days)
    candidates = newest_first(objects)[min_keep:]
    return [item["Key"] for item in reversed(candidates) if item["LastModified"] < cutoff]


def backup_objects(objects, prefix, key_regex=None):
    """The objects that are backups: those whose key, after `prefix`, matches `key_regex` in
    full (every object when there is no regex). Only these are counted toward min_keep and
    only these can be deleted; anything else under the prefix is left alone."""
    if not key_regex:
        return list(objects)
    pattern = re.compile(key_regex)
    return [item for item in objects
            if item["Key"].startswith(prefix) and pattern.fullmatch(item["Key"][len(prefix):])]


def batches(keys, size):
    return [keys[start:start + size] for start in range(0, len(keys), size)]


def batch_outcome(batch, response):
    """(deleted keys, errors) of one DeleteObjects request for the keys in `batch`.

    The requests are sent in quiet mode, where the answer lists only the keys that could not
    be deleted (under Errors); every other key of the batch was deleted.
    """
    errors = [{"key": error.get("Key"), "code": error.get("Code"), "message": error.get("Message")}
              for error in response.get("Errors") or []]
    failed = {error["key"] for error in errors}
    return [key for key in batch if key not in failed], errors


def rule_id(prefix):
    """advwell-retention-<prefix made safe>-<8 hex of the prefix's hash>; the hash tells apart
    prefixes that read the same once sanitized (a/b and a-b)."""
    readable = re.sub(r"[^A-Za-z0-9]+", "-", prefix).strip("-")[:200]
    digest = hashlib.sha256(prefix.encode()).hexdigest()[:8]
    return RULE_ID_PREFIX + (f"{readable}-{digest}" if readable else digest)


def wanted_rule(prefix, days):
    return {"ID": rule_id(prefix), "Filter": {"Prefix": prefix}, "Status": "Enabled",
            "Expiration": {"Days": days}}


def _comparable(rule):
    """A rule without the empty fields a store may add or leave out, and with a legacy
    top-level Prefix written as a Filter."""
    rule = dict(rule)
    if "Prefix" in rule and "Filter" not in rule:
        rule["Filter"] = {"Prefix": rule.pop("Prefix")}
    if isinstance(rule.get("Filter"), dict):
        rule["Filter"] = {key: value for key, value in rule["Filter"].items() if value not in (None, "")}
    return {key: value for key, value in rule.items() if value not in (None, {}, [], "")}


def merge_rule(rules, rule):
    """The bucket's rules with `rule` in place of the one with its ID (or added at the end);
    every other rule is kept as it is. Returns (rules, changed)."""
    merged, found = [], False
    for existing in rules:
        if existing.get("ID") == rule["ID"]:
            found = True
            if _comparable(existing) == _comparable(rule):
                return list(rules), False
            merged.append(rule)
        else:
            merged.append(existing)
    if not found:
        merged.append(rule)
    return merged, True


def add_content_md5(params, **kwargs):
    """DeleteObjects must carry a checksum. S3 used to require Content-MD5 for it, and stores
    that follow the older API still do. botocore >= 1.36 (1.44.8 tested) sends an
    x-amz-checksum-crc32 header instead, even with request_checksum_calculation=when_required,
    because the operation requires a checksum. SeaweedFS accepts that; sending Content-MD5 as
    well serves the older stores, and AWS accepts both headers together.

    Registered on a client with
    client.meta.events.register("before-call.s3.DeleteObjects", add_content_md5)."""
    body = params.get("body")
    if body and "Content-MD5" not in params["headers"]:
        body = body if isinstance(body, bytes) else body.encode()
        params["headers"]["Content-MD5"] = base64.b64encode(hashlib.md5(body).digest()).decode()


def prune(client, bucket, prefix, now, days, min_keep, key_regex=None, page_size=MAX_PAGE_SIZE,
          batch_size=MAX_DELETE_BATCH, check_mode=False, result=None):
    """Lists `prefix` in pages of `page_size` (ListObjectsV2) and deletes the expired backups
    (select_expired over backup_objects) in DeleteObjects requests of at most `batch_size`
    keys, quiet mode. In check mode nothing is deleted and `deleted` holds the keys a real
    run would delete.

    Fills and returns `result` (a dict): examined (objects listed), backups (of them,
    backups), deleted, errors (keys the store refused), requests, kept (examined - deleted),
    and stage ("list", "delete", then "done"). The client's exceptions are not caught: the
    caller reports them, and `result` then says how far the run got."""
    result = {} if result is None else result
    result.update(stage="list", deleted=[], errors=[], requests=0, examined=0, backups=0, kept=0)
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": page_size})
    objects = []
    for page in pages:
        result["requests"] += 1
        objects += [{"Key": item["Key"], "LastModified": item["LastModified"]}
                    for item in page.get("Contents", [])]
    backups = backup_objects(objects, prefix, key_regex)
    expired = select_expired(backups, now, days, min_keep)
    result.update(examined=len(objects), backups=len(backups), expired=expired)
    if check_mode:
        result["deleted"] = list(expired)
    else:
        result["stage"] = "delete"
        for batch in batches(expired, batch_size):
            response = client.delete_objects(
                Bucket=bucket, Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True})
            result["requests"] += 1
            deleted, errors = batch_outcome(batch, response)
            result["deleted"] += deleted
            result["errors"] += errors
    result["kept"] = len(objects) - len(result["deleted"])
    result["stage"] = "done"
    return result
