"""The parts of the backup and restore scripts that are easier in Python: the manifest,
the free-space check, the encrypted and verified S3 upload of every backup not yet
uploaded, local retention (uploaded backups only) and S3 retention (the code of the
collection's s3_backup_retention module, installed beside this file); for restores,
the list of backups, the verified and decrypted download, the check of a backup's files
against its manifest and the comparison of a restored database with the manifest.

Configuration comes from the environment (the backup's env file): S3_ENDPOINT_URL,
S3_REGION, S3_ADDRESSING_STYLE, S3_PART_SIZE, S3_PAGE_SIZE, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AGE (the age binary).
"""
import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

STAMP = "%Y%m%dT%H%M%SZ"
MiB = 1024 * 1024
# Written into a backup's directory once its encrypted archive is in S3 and verified there;
# not part of the backup (not in the manifest, not in the archive).
UPLOADED = "uploaded.json"
# What S3 holds of a backup: its directory as a tar, encrypted with age.
SUFFIX = ".tar.age"
# The names the backup script gives its backups (advwell-<database>-<UTC time>).
NAME = r"advwell-[a-z_][a-z0-9_]*-[0-9]{8}T[0-9]{6}Z"


def backup_key_regex(database=None):
    """What S3 retention counts as a backup, after the prefix: the script's names, encrypted
    (.tar.age) or from before encryption (.tar)."""
    name = NAME if database is None else f"advwell-{re.escape(database)}-[0-9]{{8}}T[0-9]{{6}}Z"
    return name + r"\.tar(\.age)?"


def age_binary():
    return os.environ.get("AGE") or "age"


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
    for root, _dirs, names in os.walk(args.dir):
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


def is_uploaded(path):
    return os.path.isfile(os.path.join(path, UPLOADED))


def write_file(path, text):
    """Written to a temporary name, synced, then renamed."""
    partial = path + ".partial"
    with open(partial, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)


def local_retention(args):
    """Removes backups older than --days, but only those whose upload to S3 was verified:
    a backup that has not reached S3 is the only copy there is."""
    backups = good_backups(args.dir)
    cutoff = datetime.now(timezone.utc) - timedelta(days=args.days)
    waiting = [path for _created, path in backups if not is_uploaded(path)]
    if waiting:
        print(f"keeping {len(waiting)} local backup(s) not yet in S3: "
              + ", ".join(os.path.basename(path) for path in reversed(waiting)), file=sys.stderr)
    # The newest good backup stays whatever its age: a week of failed runs must not
    # leave the host without any.
    for created, path in backups[1:]:
        if created < cutoff and is_uploaded(path):
            print(f"removing local backup {path} (from {created:%F %T}, in S3)", file=sys.stderr)
            shutil.rmtree(path)


def directory_size(path):
    return sum(os.path.getsize(os.path.join(root, name)) for root, _dirs, names in os.walk(path) for name in names)


def space_check(args):
    """Refuses (exit 3) when the backup directory's file system has less free space than the
    last backup's size times --margin: the backup shares its disk with PostgreSQL, and a
    full disk stops the database."""
    backups = good_backups(args.dir)
    free = shutil.disk_usage(args.dir).free
    if not backups:
        print(f"no earlier backup to size this one by; {free} bytes free in {args.dir}", file=sys.stderr)
        return
    last = directory_size(backups[0][1])
    needed = int(last * args.margin)
    if free < needed:
        print(f"not enough space for a backup in {args.dir}: {free} bytes free, the last backup "
              f"({os.path.basename(backups[0][1])}) is {last} bytes and the margin {args.margin:g} asks for "
              f"{needed}; refusing, so that PostgreSQL's disk does not fill up", file=sys.stderr)
        raise SystemExit(3)
    print(f"{free} bytes free in {args.dir}, {needed} needed ({last} x {args.margin:g})", file=sys.stderr)


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
    from s3_backup_retention import add_content_md5
    client = boto3.client("s3", endpoint_url=os.environ.get("S3_ENDPOINT_URL") or None,
                          region_name=os.environ.get("S3_REGION") or None, config=config)
    client.meta.events.register("before-call.s3.DeleteObjects", add_content_md5)
    return client


def split_url(url):
    if not url.startswith("s3://"):
        raise SystemExit(f"not an s3:// URL: {url}")
    bucket, _sep, key = url[5:].partition("/")
    return bucket, key


def parts(path, size):
    with open(path, "rb") as handle:
        yield from iter(lambda: handle.read(size), b"")


def upload_file(client, path, bucket, key):
    """Uploads the file, then checks the stored size and ETag (MD5, or for multipart
    uploads the MD5 of the parts' MD5s with the part count) against the local file.
    Returns what was verified."""
    part_size = int(os.environ.get("S3_PART_SIZE") or 64 * MiB)
    size = os.path.getsize(path)
    metadata = {"sha256": digest(path)}
    if size <= part_size:
        with open(path, "rb") as handle:
            body = handle.read()
        md5 = hashlib.md5(body).digest()
        client.put_object(Bucket=bucket, Key=key, Body=body, Metadata=metadata,
                          ContentMD5=base64.b64encode(md5).decode())
        expected = md5.hex()
    else:
        upload_id = client.create_multipart_upload(Bucket=bucket, Key=key, Metadata=metadata)["UploadId"]
        done, md5s = [], []
        try:
            for number, block in enumerate(parts(path, part_size), start=1):
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
        raise SystemExit(f"upload of {path} to s3://{bucket}/{key} does not match: stored {stored['ContentLength']} "
                         f"bytes, ETag {etag}; local {size} bytes, ETag {expected}")
    print(f"uploaded s3://{bucket}/{key}: {size} bytes, ETag {etag} verified", file=sys.stderr)
    return {"url": f"s3://{bucket}/{key}", "size": size, "etag": etag, "sha256": metadata["sha256"]}


def upload(args):
    bucket, key = split_url(args.url)
    upload_file(s3_client(), args.file, bucket, key)


def encrypt(directory, name, recipients, archive):
    """The backup's directory as a tar, encrypted with age to every recipient in the file
    `recipients` (public keys only: nothing here can decrypt it)."""
    tar = subprocess.Popen(["tar", "-C", directory, "-cf", "-", name], stdout=subprocess.PIPE)
    try:
        age = subprocess.run([age_binary(), "--encrypt", "--recipients-file", recipients, "--output", archive],
                             stdin=tar.stdout, stderr=subprocess.PIPE, text=True, check=False)
    finally:
        tar.stdout.close()
        tar_status = tar.wait()
    if tar_status != 0 or age.returncode != 0:
        raise SystemExit(f"cannot encrypt {name} to the recipients in {recipients}: "
                         f"tar exit {tar_status}, age: {age.stderr.strip() or age.returncode}")


def upload_pending(args):
    """Every finished backup not yet in S3, oldest first: encrypted to a temporary archive
    beside it, uploaded, verified, then marked uploaded; the archive is removed whatever
    happens. Stops at the first failure: the next run retries from there."""
    try:
        with open(args.recipients) as handle:
            recipients = [line for line in handle.read().splitlines() if line.strip() and not line.startswith("#")]
    except OSError:
        recipients = []
    if not recipients:
        raise SystemExit(f"no age recipients in {args.recipients}: nothing is uploaded unencrypted")
    bucket, prefix = split_url(args.url)
    pending = [(created, path) for created, path in reversed(good_backups(args.dir)) if not is_uploaded(path)]
    if not pending:
        print("every local backup is in S3", file=sys.stderr)
        return
    print(f"{len(pending)} backup(s) to upload, oldest first: "
          + ", ".join(os.path.basename(path) for _created, path in pending), file=sys.stderr)
    client = s3_client()
    for _created, path in pending:
        name = os.path.basename(path)
        archive = os.path.join(args.dir, name + SUFFIX + ".partial")
        try:
            encrypt(args.dir, name, args.recipients, archive)
            try:
                stored = upload_file(client, archive, bucket, prefix + name + SUFFIX)
            except SystemExit:
                raise
            except Exception as error:
                raise SystemExit(f"upload of {name} failed ({type(error).__name__}: {error}); "
                                 f"it stays here and the next run retries it") from None
        finally:
            if os.path.exists(archive):
                os.remove(archive)
        stored["uploaded"] = datetime.now(timezone.utc).strftime(STAMP)
        write_file(os.path.join(path, UPLOADED), json.dumps(stored, indent=1) + "\n")


def s3_retention(args):
    """The s3_backup_retention module's own code (module_utils, installed beside this file):
    paginated listing, DeleteObjects in batches of at most 1000 keys, and only the backup
    script's objects counted toward --min-keep (and deleted)."""
    from s3_backup_retention import MAX_DELETE_BATCH, MAX_PAGE_SIZE, prune
    bucket, prefix = split_url(args.url)
    if not prefix:
        raise SystemExit("refusing S3 retention over a whole bucket: give a prefix")
    page_size = min(int(os.environ.get("S3_PAGE_SIZE") or MAX_PAGE_SIZE), MAX_PAGE_SIZE)
    result = prune(s3_client(), bucket, prefix, datetime.now(timezone.utc), args.days, args.min_keep,
                   key_regex=backup_key_regex(args.database), page_size=page_size, batch_size=MAX_DELETE_BATCH)
    for key in result["deleted"]:
        print(f"removed s3://{bucket}/{key}", file=sys.stderr)
    print(f"S3 retention: {result['examined']} objects under {args.url}, {result['backups']} backups, "
          f"{len(result['deleted'])} removed, {result['requests']} requests", file=sys.stderr)
    if result["errors"]:
        raise SystemExit(f"{len(result['errors'])} keys could not be deleted: "
                         + "; ".join(f"{error['key']}: {error['code']}" for error in result["errors"][:5]))


def backup_name(key_or_dir):
    name = os.path.basename(key_or_dir.rstrip("/"))
    for suffix in (SUFFIX, ".tar"):
        if name.endswith(suffix):
            return name[:-len(suffix)]
    return name


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
            if item["Key"].endswith((SUFFIX, ".tar")):
                found.append((item["LastModified"], backup_name(item["Key"]), "s3", f"s3://{bucket}/{item['Key']}"))
    return found


def decrypted(url, encrypted, identity):
    """age decrypting `encrypted` with the identity file; its stdout is the tar."""
    if not identity or not os.path.isfile(identity):
        raise SystemExit(f"{url} is encrypted and there is no age identity (private key) file "
                         f"{identity or '(AGE_IDENTITY_FILE is not set)'}: set db_backup_age_identity")
    return subprocess.Popen([age_binary(), "--decrypt", "--identity", identity, encrypted],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def unpack(url, archive, name, directory):
    """Extracts the backup's own directory from a tar stream; any other entry is refused."""
    target = os.path.join(directory, name)
    for member in archive:
        inside = member.name == name or member.name.startswith(name + "/")
        if not inside or ".." in member.name.split("/") or not (member.isfile() or member.isdir()):
            raise SystemExit(f"{url}: unexpected entry {member.name!r} in the archive")
        archive.extract(member, directory)
    if not os.path.isdir(target):
        raise SystemExit(f"{url}: no directory {name} in the archive")
    return target


def fetch(args):
    """Downloads s3://.../<name>.tar.age into DIR, checks its sha256 against the one recorded
    at upload, decrypts it with the age identity (--identity) and unpacks it to DIR/<name>.
    Prints that directory. On any failure nothing of it is left in DIR."""
    client = s3_client()
    bucket, key = split_url(args.url)
    name = backup_name(key)
    partial = os.path.join(args.dir, os.path.basename(key) + ".partial")
    target = os.path.join(args.dir, name)
    shutil.rmtree(target, ignore_errors=True)
    client.download_file(bucket, key, partial)
    try:
        recorded = client.head_object(Bucket=bucket, Key=key).get("Metadata", {}).get("sha256")
        actual = digest(partial)
        if recorded and recorded != actual:
            raise SystemExit(f"{args.url}: downloaded sha256 {actual} is not the uploaded {recorded}")
        if key.endswith(SUFFIX):
            age = decrypted(args.url, partial, args.identity)
            try:
                with tarfile.open(fileobj=age.stdout, mode="r|") as archive:
                    unpack(args.url, archive, name, args.dir)
                while age.stdout.read(MiB):  # the tar's padding: age must not die writing it
                    pass
            except (tarfile.TarError, SystemExit) as error:
                age.kill()
                failure = error
            else:
                failure = None
            age.stdout.close()
            status, message = age.wait(), age.stderr.read().decode(errors="replace").strip()
            if status != 0:
                raise SystemExit(f"{args.url}: cannot decrypt it with the age identity {args.identity}: "
                                 f"{message or f'age exit {status}'} (is it the private key of one of "
                                 f"db_backup_age_recipients?)")
            if failure is not None:
                raise SystemExit(f"{args.url}: not a good archive once decrypted: {failure}")
        else:  # made before backups were encrypted
            with tarfile.open(partial) as archive:
                unpack(args.url, archive, name, args.dir)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
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
    for root, _dirs, names in os.walk(args.dir):
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
    problems += [f"{relative}: not in the manifest"
                 for relative in sorted(present - set(listed) - {"manifest.json", UPLOADED})]
    if problems:
        raise SystemExit(f"{args.dir} is damaged: " + "; ".join(problems))
    print(f"{args.dir}: {len(listed)} files match the manifest", file=sys.stderr)


def compare(args):
    """The restored database's tables (fingerprint JSON) against the manifest's, with the
    comparison of the collection's pg_fingerprint (installed beside this file)."""
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
    "space-check": (space_check, ["dir"], ["--margin:float"]),
    "local-retention": (local_retention, ["dir"], ["--days:int"]),
    "upload": (upload, ["file", "url"], []),
    "upload-pending": (upload_pending, ["dir", "url"], ["--recipients"]),
    "s3-retention": (s3_retention, ["url"], ["--days:int", "--min-keep:int", "--database"]),
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
            flag, _sep, kind = option.partition(":")
            command.add_argument(flag, required=True, type={"int": int, "float": float}.get(kind, str))
        command.set_defaults(run=function)
    commands.choices["list"].add_argument("--s3-url")
    commands.choices["fetch"].add_argument("--identity", default=os.environ.get("AGE_IDENTITY_FILE", ""))
    args = parser.parse_args()
    try:
        args.run(args)
    except Exception as error:  # boto3's errors name the request; a traceback adds nothing
        raise SystemExit(f"{args.command}: {type(error).__name__}: {error}") from None


if __name__ == "__main__":
    main()
