"""Scans files and directories with detect-secrets; prints JSON with file, line and type.

    python advwell-secret-scan.py [--exclude REGEX]... [--max-size BYTES] [--disable PLUGIN]... PATH...

The output never holds a secret (nor its hash): {"scanned": N, "findings": [{"file", "line",
"type"}]}. Paths that do not exist are skipped; files matching an --exclude regular expression
(on the absolute path), larger than --max-size or not text are not scanned.
"""
import argparse
import json
import os
import re
import sys

from detect_secrets import SecretsCollection
from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
from detect_secrets.settings import transient_settings

DETECTORS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "advwell_detectors.py")


def files_under(paths, excludes, max_size):
    for top in paths:
        if os.path.isfile(top):
            candidates = [top]
        else:
            candidates = (os.path.join(root, name) for root, _dirs, names in os.walk(top) for name in names)
        for path in candidates:
            path = os.path.abspath(path)
            if any(pattern.search(path) for pattern in excludes):
                continue
            if os.path.islink(path) or not os.path.isfile(path) or os.path.getsize(path) > max_size:
                continue
            yield path


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--exclude", action="append", default=[])
    parser.add_argument("--max-size", type=int, default=1024 * 1024)
    parser.add_argument("--disable", action="append", default=[])
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args()
    try:
        excludes = [re.compile(pattern) for pattern in args.exclude]
    except re.error as error:
        sys.exit(f"security_secrets_exclude: {error.pattern!r} is not a regular expression: {error}")

    plugins = [{"name": cls.__name__} for cls in get_mapping_from_secret_type_to_class().values()
               if cls.__name__ not in args.disable]
    plugins.append({"name": "DockerHubTokenDetector", "path": "file://" + DETECTORS})
    files = sorted(set(files_under(args.paths, excludes, args.max_size)))
    with transient_settings({"plugins_used": plugins}):
        # The plugin classes are cached before the settings name the extra plugin.
        get_mapping_from_secret_type_to_class.cache_clear()
        secrets = SecretsCollection()
        for path in files:
            secrets.scan_file(path)
        findings = sorted({(filename, secret.line_number, secret.type) for filename, secret in secrets})
    json.dump({"scanned": len(files),
               "findings": [{"file": f, "line": line, "type": kind} for f, line, kind in findings]},
              sys.stdout)


if __name__ == "__main__":
    main()
