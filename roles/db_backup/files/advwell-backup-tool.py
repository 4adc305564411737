#!/usr/bin/python3
"""The parts of the backup and restore scripts that are easier in Python: the manifest,
local retention, the verified S3 upload and S3 retention (the selection of the
collection's s3_backup_retention module, installed beside this file); for restores,
the list of backups, the verified download, the check of a backup's files against
its manifest and the comparison of a restored database with the manifest.

Configuration comes from the environment (the backup's env file): S3_ENDPOINT_URL,
S3_REGION, S3_ADDRESSING_STYLE, S3_PART_SIZE, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY.
"""
import argparse
import base64
import hashlib
import json
import os
import shutil
import sys
import tarfile
from datetime import datetime, timedelta, timezone

STAMP = "%Y%m%dT%H%M%SZ"
MiB = 1024 * 1024


def digest(path, algorithm="sha256"):
    hasher = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(MiB), b""):
            hasher.update(block)
    return hasher.hexdigest()


def manifest(args):
    with open(args.tables) as handle:
        tables = json.load(handle)
    files = {}
    for root, _, names in os.walk(args.dir):
        for name in sorted(names):
            path = os.path.join(root, name)
            relative = os.path.relpath(path, args.dir)
            if relative in ("tables.json", "manifest.json"):
                continue
            files[relative] = {"size": os.path.getsize(path), "sha256": digest(path)}
    document = {"database": args.database, "created": args.created, "snapshot": args.snapshot,
                "format": "pg_dump directory (db.dump) + pg_dumpall --globals-only (globals.sql)",
                "tables": tables, "files": dict(sorted(files.items()))}
    with open(os.path.join(args.dir, "manifest.json"), "w") as handle:
        json.dump(document, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())


def good_backups(directory):
    """(created, path) of every finished backup (final name, manifest), newest first."""
    found = []
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        try:
            with open(os.path.join(path, "manifest.json")) as handle:
                created = datetime.strptime(json.load(handle)["created"], STAMP)
        except (OSError, ValueError, KeyError):
            continue
        found.append((created.replace(tzinfo=timezone.utc), path))
    return sorted(found, reverse=True)


def local_retention(args):
    backups = good_backups(args.dir)
    cutoff = datetime.now(timezone.utc) - timedelta(days=args.days)
    # The newest good backup stays whatever its age: a week of failed runs must not
    # leave the host without any.
    for created, path in backups[1:]:
        if created < cutoff:
            print(f"removing local backup {path} (from {created:%F %T})", file=sys.stderr)
            shutil.rmtree(path)


def s3_client():
    import boto3
    from botocore.config import Config
    # As in the retention module: S3-compatible stores reject the CRC checksums newer boto3
    # sends by default.
    options = dict(s3={"addressing_style": os.environ.get("S3_ADDRESSING_STYLE") or "auto"},
                   retries={"mode": "standard", "max_attempts": 3}, connect_timeout=10)
    try:
        config = Config(request_checksum_calculation="when_required",
                        response_checksum_validation="when_required", **options)
    except TypeError:  # botocore < 1.36 (Debian 12's) has neither the options nor the CRC defaults
        config = Config(**options)
    return boto3.client("s3", endpoint_url=os.environ.get("S3_ENDPOINT_URL") or None,
                        region_name=os.environ.get("S3_REGION") or None, config=config)


def split_url(url):
    if not url.startswith("s3://"):
        raise SystemExit(f"not an s3:// URL: {url}")
    bucket, _, key = url[5:].partition("/")
    return bucket, key


def parts(path, size):
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(size), b""):
            yield block


def upload(args):
    """Uploads the file, then checks the stored size and ETag (MD5, or for multipart
    uploads the MD5 of the parts' MD5s with the part count) against the local file."""
    client = s3_client()
    bucket, key = split_url(args.url)
    part_size = int(os.environ.get("S3_PART_SIZE") or 64 * MiB)
    size = os.path.getsize(args.file)
    metadata = {"sha256": digest(args.file)}
    if size <= part_size:
        with open(args.file, "rb") as handle:
            body = handle.read()
        md5 = hashlib.md5(body).digest()
        client.put_object(Bucket=bucket, Key=key, Body=body, Metadata=metadata,
                          ContentMD5=base64.b64encode(md5).decode())
        expected = md5.hex()
    else:
        upload_id = client.create_multipart_upload(Bucket=bucket, Key=key, Metadata=metadata)["UploadId"]
        done, md5s = [], []
        try:
            for number, block in enumerate(parts(args.file, part_size), start=1):
                md5 = hashlib.md5(block).digest()
                answer = client.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number,
                                            Body=block, ContentMD5=base64.b64encode(md5).decode())
                done.append({"PartNumber": number, "ETag": answer["ETag"]})
                md5s.append(md5)
            client.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id,
                                             MultipartUpload={"Parts": done})
        except BaseException:
            client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            raise
        expected = f"{hashlib.md5(b''.join(md5s)).hexdigest()}-{len(md5s)}"
    stored = client.head_object(Bucket=bucket, Key=key)
    etag = stored["ETag"].strip('"')
    if stored["ContentLength"] != size or etag != expected:
        raise SystemExit(f"upload of {args.file} to {args.url} does not match: stored {stored['ContentLength']} "
                         f"bytes, ETag {etag}; local {size} bytes, ETag {expected}")
    print(f"uploaded {args.url}: {size} bytes, ETag {etag} verified", file=sys.stderr)


def s3_retention(args):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from s3_backup_retention import select_expired
    client = s3_client()
    bucket, prefix = split_url(args.url)
    if not prefix:
        raise SystemExit("refusing S3 retention over a whole bucket: give a prefix")
    objects = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        objects += [{"Key": item["Key"], "LastModified": item["LastModified"]} for item in page.get("Contents", [])]
    expired = select_expired(objects, datetime.now(timezone.utc), args.days, args.min_keep)
    for key in expired:  # a handful a day: one DeleteObject each is enough
        client.delete_object(Bucket=bucket, Key=key)
        print(f"removed s3://{bucket}/{key}", file=sys.stderr)


def backup_name(key_or_dir):
    name = os.path.basename(key_or_dir.rstrip("/"))
    return name[:-len(".tar")] if name.endswith(".tar") else name


def list_backups(args):
    """Finished backups, newest first: one line each, "<name> <local|s3> <created> <location>"."""
    found = [(created, backup_name(path), "local", path) for created, path in good_backups(args.dir)]
    if args.s3_url:
        try:
            found += s3_backups(args.s3_url)
        except Exception as error:  # the local copies must stay usable when S3 is not
            print(f"S3 not listed ({type(error).__name__}: {error}): local backups only", file=sys.stderr)
    for created, name, where, location in sorted(found, key=lambda entry: entry[1], reverse=True):
        print(f"{name} {where} {created:%Y-%m-%dT%H:%M:%SZ} {location}")


def s3_backups(url):
    client = s3_client()
    bucket, prefix = split_url(url)
    found = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if item["Key"].endswith(".tar"):
                found.append((item["LastModified"], backup_name(item["Key"]), "s3", f"s3://{bucket}/{item['Key']}"))
    return found


def fetch(args):
    """Downloads s3://.../<name>.tar into DIR, checks its sha256 against the one recorded at
    upload, and unpacks it to DIR/<name>. Prints that directory."""
    client = s3_client()
    bucket, key = split_url(args.url)
    name = backup_name(key)
    partial = os.path.join(args.dir, name + ".tar.partial")
    client.download_file(bucket, key, partial)
    try:
        recorded = client.head_object(Bucket=bucket, Key=key).get("Metadata", {}).get("sha256")
        actual = digest(partial)
        if recorded and recorded != actual:
            raise SystemExit(f"{args.url}: downloaded sha256 {actual} is not the uploaded {recorded}")
        with tarfile.open(partial) as archive:
            for member in archive.getmembers():
                inside = member.name == name or member.name.startswith(name + "/")
                if not inside or ".." in member.name.split("/") or not (member.isfile() or member.isdir()):
                    raise SystemExit(f"{args.url}: unexpected entry {member.name!r} in the archive")
            target = os.path.join(args.dir, name)
            shutil.rmtree(target, ignore_errors=True)
            archive.extractall(args.dir)
    finally:
        os.remove(partial)
    print(target)


def verify_files(args):
    """Every file the manifest lists is there with its size and sha256, and no other."""
    try:
        with open(os.path.join(args.dir, "manifest.json")) as handle:
            listed = json.load(handle)["files"]
    except (OSError, ValueError, KeyError) as error:
        raise SystemExit(f"{args.dir}: no readable manifest ({error})") from None
    problems = []
    present = set()
    for root, _, names in os.walk(args.dir):
        for name in names:
            present.add(os.path.relpath(os.path.join(root, name), args.dir))
    for relative, wanted in sorted(listed.items()):
        path = os.path.join(args.dir, relative)
        if relative not in present:
            problems.append(f"{relative}: missing")
        elif os.path.getsize(path) != wanted["size"]:
            problems.append(f"{relative}: {os.path.getsize(path)} bytes, the manifest says {wanted['size']}")
        elif digest(path) != wanted["sha256"]:
            problems.append(f"{relative}: content differs from the manifest (sha256)")
    problems += [f"{relative}: not in the manifest" for relative in sorted(present - set(listed) - {"manifest.json"})]
    if problems:
        raise SystemExit(f"{args.dir} is damaged: " + "; ".join(problems))
    print(f"{args.dir}: {len(listed)} files match the manifest", file=sys.stderr)


def compare(args):
    """The restored database's tables (fingerprint JSON) against the manifest's, with the
    comparison of the collection's pg_fingerprint (installed beside this file)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from pg_fingerprint import mismatches
    with open(os.path.join(args.dir, "manifest.json")) as handle:
        wanted = json.load(handle)["tables"]
    with open(args.restored) as handle:
        got = json.load(handle)
    found = mismatches({"tables": wanted, "sequences": {}}, {"tables": got, "sequences": {}})
    row_counts_differ = {item["object"] for item in found if item["problem"] == "rows differ"}
    problems = []
    for item in found:
        table, problem = item["object"], item["problem"]
        if problem == "rows differ":
            problems.append(f"{table}: {item['target']} rows, the manifest says {item['source']}")
        elif problem == "checksum differ" and table not in row_counts_differ:
            problems.append(f"{table}: same row count, different content")
        elif problem == "missing in target":
            problems.append(f"{table}: missing")
        elif problem == "only in target":
            problems.append(f"{table}: not in the manifest")
    if problems:
        raise SystemExit("the restored database differs from the manifest: " + "; ".join(problems))
    rows = sum(table["rows"] for table in wanted.values())
    print(f"{len(wanted)} tables, {rows} rows: equal to the manifest")


# Each command: its function, its positional arguments, its required options ("--days:int").
COMMANDS = {
    "manifest": (manifest, ["dir"], ["--database", "--snapshot", "--created", "--tables"]),
    "local-retention": (local_retention, ["dir"], ["--days:int"]),
    "upload": (upload, ["file", "url"], []),
    "s3-retention": (s3_retention, ["url"], ["--days:int", "--min-keep:int"]),
    "list": (list_backups, ["dir"], []),
    "fetch": (fetch, ["url", "dir"], []),
    "verify-files": (verify_files, ["dir"], []),
    "compare": (compare, ["dir", "restored"], []),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, (function, positionals, options) in COMMANDS.items():
        command = commands.add_parser(name)
        for positional in positionals:
            command.add_argument(positional)
        for option in options:
            flag, _, kind = option.partition(":")
            command.add_argument(flag, required=True, type=int if kind == "int" else str)
        command.set_defaults(run=function)
    commands.choices["list"].add_argument("--s3-url")
    args = parser.parse_args()
    try:
        args.run(args)
    except Exception as error:  # boto3's errors name the request; a traceback adds nothing
        raise SystemExit(f"{args.command}: {type(error).__name__}: {error}") from None


if __name__ == "__main__":
    main()
