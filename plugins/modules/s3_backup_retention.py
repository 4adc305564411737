#!/usr/bin/python
# Copyright: (c) 2026, AdvWell platform engineers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prunes backups under an S3 prefix by age, never below a count of newest ones."""

DOCUMENTATION = r"""
---
module: s3_backup_retention
short_description: Delete backups under an S3 prefix older than N days, always keeping the newest ones
version_added: 0.1.0
description:
  - Lists every object whose key starts with O(prefix) in O(bucket) and deletes those last
    modified more than O(days) days ago, except the O(min_keep) newest objects, which are
    never deleted whatever their age. So a week of failed backups cannot delete the last
    good one.
  - Objects are ordered by C(LastModified); among objects with the same time the greater key
    counts as newer. An object exactly O(days) old is kept.
  - The listing is paginated (ListObjectsV2, O(page_size) keys a page) and deletes are sent
    in batches of at most 1000 keys (DeleteObjects, O(batch_size) keys a request), so a
    prefix with many thousands of objects costs a handful of requests.
  - A key the store refuses to delete (an entry under C(Errors) of a DeleteObjects answer)
    makes the task fail after every batch has been sent; the result still lists what was
    deleted and every error.
  - Optionally (O(lifecycle_days)) also ensures a bucket lifecycle rule that expires objects
    under the prefix after O(lifecycle_days) days, as a second line of defence should this
    module stop running. The rule has the ID C(advwell-retention-<prefix>-<hash>); the
    bucket's other rules are kept as they are.
  - Works with S3-compatible stores through O(endpoint_url). Newer boto3 versions send CRC
    checksums with every upload and validate them on every download, which many such stores
    reject; the module only sends checksums where the API requires one, and adds a
    C(Content-MD5) header to DeleteObjects, which some stores require.
  - Why a module? C(amazon.aws.s3_object) lists keys (V(list)) and deletes one named key
    (V(delobj)); it cannot select objects by age, keep the newest N, or delete in batches.
    C(community.aws.s3_lifecycle) only manages lifecycle rules, which expire by age alone,
    without a floor of newest objects, so a run of failed backups would let it expire the
    last good one.
author:
  - AdvWell platform engineers (!UNKNOWN)
options:
  bucket:
    description: Name of the bucket.
    type: str
    required: true
  prefix:
    description:
      - Key prefix of the backups, for example V(backups/postgresql/). Every object whose key
        starts with it is considered, including keys in deeper "folders". End it with C(/)
        so that V(backups/postgresql) does not also match V(backups/postgresql-old/).
      - An empty prefix (the whole bucket) is refused unless O(allow_whole_bucket=true).
    type: str
    required: true
  allow_whole_bucket:
    description: Allow an empty O(prefix), which makes every object of the bucket a candidate.
    type: bool
    default: false
  days:
    description:
      - Objects last modified more than this many days ago are deleted (except the
        O(min_keep) newest). Must be 0 or more; V(0) deletes every object older than now.
    type: int
    required: true
  min_keep:
    description: Number of newest objects that are never deleted, whatever their age. Must be 0 or more.
    type: int
    default: 3
  lifecycle_days:
    description:
      - When given, ensures a lifecycle rule expiring objects under O(prefix) after this many
        days. Must be more than O(days). The rule is written only when it differs from the
        bucket's rule with the same ID.
      - The rule has no floor of newest objects, which is why it must be longer than O(days)
        (set it well above O(days) so that it only acts when this module no longer runs).
      - Whether a store acts on the rule is up to the store. SeaweedFS 4.48 (tested) stores
        the rule and returns it unchanged, other rules included, but gives objects written
        under it no TTL and no C(x-amz-expiration) header, so expiry by SeaweedFS was not
        observed. The tests check the stored rules only, not an expiry.
    type: int
  key_regex:
    description:
      - A Python regular expression that the part of a key after O(prefix) must match in
        full for the object to count as a backup, for example
        V(advwell-advtom-[0-9]{8}T[0-9]{6}Z\\.tar\\.age) for the names the collection's backup
        job makes.
      - Only backups count toward O(min_keep) and only backups are deleted; any other object
        under the prefix (a note, a manual copy, another tool's file) is left alone and
        cannot take the place of a backup among the O(min_keep) newest.
      - Without it every object under the prefix is a backup.
    type: str
  batch_size:
    description: Keys per DeleteObjects request, from 1 to 1000.
    type: int
    default: 1000
  page_size:
    description: Keys per ListObjectsV2 page, from 1 to 1000 (the server may return fewer).
    type: int
    default: 1000
  now:
    description:
      - The time the ages are computed from, as ISO 8601 (for example
        V(2026-11-29T03:00:00Z); without an offset the time is UTC). Defaults to the current
        time.
      - For tests and for replaying a past run; a time in the future deletes more.
    type: str
  endpoint_url:
    description: URL of an S3-compatible store, for example V(https://s3.example.net). Defaults to AWS.
    type: str
  region:
    description: Region of the bucket. Defaults to boto3's (E(AWS_DEFAULT_REGION), the AWS config file).
    type: str
  addressing_style:
    description: V(path) puts the bucket in the URL's path, as many S3-compatible stores need.
    type: str
    choices: [auto, path, virtual]
    default: auto
  access_key:
    description: Access key ID. Defaults to boto3's (E(AWS_ACCESS_KEY_ID), profile, instance role).
    type: str
  secret_key:
    description: Secret access key. Defaults to boto3's (E(AWS_SECRET_ACCESS_KEY), ...).
    type: str
  session_token:
    description: Session token for temporary credentials. Defaults to boto3's (E(AWS_SESSION_TOKEN)).
    type: str
requirements:
  - boto3 (on the host that runs the module)
notes:
  - Versioned buckets are not pruned version by version; deleting a key there adds a delete
    marker and keeps the old versions.
  - The credentials are never logged (C(no_log)).
attributes:
  check_mode:
    support: full
    description: Lists the objects and returns exactly the keys a real run would delete (the
      same selection); deletes nothing and writes no lifecycle rule.
  diff_mode:
    support: none
    description: No diff; the result lists the keys deleted (in check mode, the keys that would be).
seealso:
  - module: amazon.aws.s3_object
  - module: community.aws.s3_lifecycle
"""

EXAMPLES = r"""
- name: Keep 14 days of PostgreSQL backups, and never fewer than the 7 newest
  advwell.platform.s3_backup_retention:
    bucket: advwell-app
    prefix: backups/postgresql/
    days: 14
    min_keep: 7

- name: Same on an S3-compatible store, with a 30-day lifecycle rule as a backstop
  advwell.platform.s3_backup_retention:
    bucket: advwell-app
    prefix: backups/postgresql/
    days: 14
    min_keep: 7
    lifecycle_days: 30
    endpoint_url: https://s3.example.net
    region: eu-central-1
    addressing_style: path
    access_key: "{{ backup_s3_access_key }}"
    secret_key: "{{ backup_s3_secret_key }}"

- name: Show what would be deleted
  advwell.platform.s3_backup_retention:
    bucket: advwell-app
    prefix: backups/postgresql/
    days: 14
  check_mode: true
  register: retention

- name: Print it
  ansible.builtin.debug:
    var: retention.deleted
"""

RETURN = r"""
deleted:
  description: Keys deleted, oldest first (in check mode, the keys that would be deleted).
  returned: always
  type: list
  elements: str
  sample: [backups/postgresql/advwell-2026-11-01T0300.dump]
kept:
  description: Number of objects under the prefix that are left (examined minus deleted).
  returned: always
  type: int
  sample: 14
examined:
  description: Number of objects listed under the prefix.
  returned: always
  type: int
  sample: 15
requests:
  description: ListObjectsV2 and DeleteObjects requests made (lifecycle requests not counted).
  returned: always
  type: int
  sample: 2
cutoff:
  description: Objects last modified before this time were candidates for deletion (ISO 8601, UTC).
  returned: always
  type: str
  sample: "2026-11-15T03:00:00+00:00"
errors:
  description: Keys the store refused to delete; the task fails when there is any.
  returned: always
  type: list
  elements: dict
  contains:
    key:
      description: The key.
      type: str
    code:
      description: The store's error code, for example V(AccessDenied).
      type: str
    message:
      description: The store's message.
      type: str
  sample: []
lifecycle_rule:
  description: The lifecycle rule ensured (in check mode, the one that would be).
  returned: when O(lifecycle_days) is given
  type: dict
  sample: {ID: advwell-retention-backups-postgresql-d8cc039e, Filter: {Prefix: backups/postgresql/},
           Status: Enabled, Expiration: {Days: 30}}
lifecycle_changed:
  description: Whether the lifecycle rule was (or in check mode would be) written.
  returned: when O(lifecycle_days) is given
  type: bool
  sample: false
"""

from datetime import datetime, timedelta, timezone

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.advwell.platform.plugins.module_utils.s3_backup_retention import (
    add_content_md5, merge_rule, param_errors, parse_time, prune, wanted_rule)

try:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError as error:
    BOTO3_IMPORT_ERROR = error
else:
    BOTO3_IMPORT_ERROR = None


def s3_client(params):
    # "when_required": no CRC checksums on requests that do not need one and no validation
    # of checksums S3-compatible stores do not send (boto3 >= 1.36 defaults to both).
    options = dict(s3={"addressing_style": params["addressing_style"]}, retries={"mode": "standard"})
    try:
        config = Config(request_checksum_calculation="when_required",
                        response_checksum_validation="when_required", **options)
    except TypeError:  # botocore < 1.36 has neither the options nor the CRC defaults
        config = Config(**options)
    client = boto3.client("s3", endpoint_url=params["endpoint_url"], region_name=params["region"],
                          aws_access_key_id=params["access_key"],
                          aws_secret_access_key=params["secret_key"],
                          aws_session_token=params["session_token"], config=config)
    client.meta.events.register("before-call.s3.DeleteObjects", add_content_md5)
    return client


class Retention:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.where = f"s3://{self.params['bucket']}/{self.params['prefix']}"
        self.client = s3_client(self.params)
        self.result = {"changed": False, "deleted": [], "kept": 0, "examined": 0, "requests": 0,
                       "errors": []}

    def fail(self, msg, error=None):
        if error is not None:
            msg += f": {error}"
        self.module.fail_json(msg=msg, **self.result)

    def ensure_lifecycle(self):
        bucket = self.params["bucket"]
        rule = wanted_rule(self.params["prefix"], self.params["lifecycle_days"])
        try:
            rules = self.client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "NoSuchLifecycleConfiguration":
                self.fail(f"cannot read the lifecycle rules of bucket {bucket}", error)
            rules = []
        except BotoCoreError as error:
            self.fail(f"cannot read the lifecycle rules of bucket {bucket}", error)
        rules, changed = merge_rule(rules, rule)
        self.result.update(lifecycle_rule=rule, lifecycle_changed=changed)
        if changed and not self.module.check_mode:
            try:
                self.client.put_bucket_lifecycle_configuration(
                    Bucket=bucket, LifecycleConfiguration={"Rules": rules})
            except (BotoCoreError, ClientError) as error:
                self.fail(f"cannot write the lifecycle rule {rule['ID']} of bucket {bucket}", error)
        return changed

    def run(self):
        params = self.params
        now = parse_time(params["now"]) if params["now"] else datetime.now(timezone.utc)
        self.result["cutoff"] = (now - timedelta(days=params["days"])).isoformat()
        pruned = {}
        try:
            prune(self.client, params["bucket"], params["prefix"], now, params["days"], params["min_keep"],
                  key_regex=params["key_regex"], page_size=params["page_size"],
                  batch_size=params["batch_size"], check_mode=self.module.check_mode, result=pruned)
        except (BotoCoreError, ClientError) as error:
            self.result.update({key: pruned[key] for key in ("deleted", "errors", "requests", "examined")})
            if pruned["stage"] == "list":
                self.fail(f"cannot list {self.where}", error)
            self.fail(f"cannot delete from {self.where} ({len(pruned['deleted'])} keys deleted before)", error)
        expired = pruned["expired"]
        self.result.update({key: pruned[key] for key in ("deleted", "errors", "requests", "examined", "kept")})
        self.result["changed"] = bool(self.result["deleted"])
        if params["lifecycle_days"] is not None and self.ensure_lifecycle():
            self.result["changed"] = True
        errors = self.result["errors"]
        if errors:
            shown = "; ".join(f"{error['key']}: {error['code']} {error['message']}" for error in errors[:5])
            self.fail(f"{len(errors)} of {len(expired)} keys under {self.where} could not be deleted "
                      f"({len(self.result['deleted'])} were): {shown}" + ("; ..." if len(errors) > 5 else ""))
        self.module.exit_json(**self.result)


def argument_spec():
    return dict(
        bucket=dict(type="str", required=True),
        prefix=dict(type="str", required=True),
        allow_whole_bucket=dict(type="bool", default=False),
        days=dict(type="int", required=True),
        min_keep=dict(type="int", default=3),
        lifecycle_days=dict(type="int"),
        batch_size=dict(type="int", default=1000),
        page_size=dict(type="int", default=1000),
        key_regex=dict(type="str", no_log=False),
        now=dict(type="str"),
        endpoint_url=dict(type="str"),
        region=dict(type="str"),
        addressing_style=dict(type="str", default="auto", choices=["auto", "path", "virtual"]),
        access_key=dict(type="str", no_log=True),
        secret_key=dict(type="str", no_log=True),
        session_token=dict(type="str", no_log=True),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    errors = param_errors(module.params)
    if errors:
        module.fail_json(msg="; ".join(errors))
    if BOTO3_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib("boto3"), exception=str(BOTO3_IMPORT_ERROR))
    Retention(module).run()


if __name__ == "__main__":
    main()
