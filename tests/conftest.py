"""Fixtures that start real services on loopback (see tests/fixtures/)."""
import os
import sys

# Plugins and module_utils are imported as advwell.platform.* from the checkout.
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO_ROOT, ".ansible", "collections"))

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.s3",
    "tests.fixtures.redis",
    "tests.fixtures.swarm",
    "tests.fixtures.fail2ban",
    "tests.fixtures.backup",
    "tests.fixtures.http",
    "tests.fixtures.prometheus",
]
