"""`ansible-galaxy collection build` ships the collection without tests, Molecule or lab tooling."""
import json
import os
import tarfile

import pytest

from .ansible_run import REPO_ROOT, ansible


def test_build_leaves_out_tests_molecule_and_lab(tmp_path):
    result = ansible("ansible-galaxy", "collection", "build", "--output-path", str(tmp_path), REPO_ROOT)
    assert result.returncode == 0, result.stderr
    tarball = next(tmp_path.glob("advwell-platform-*.tar.gz"))
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    top = {name.split("/")[0] for name in names}
    assert {"plugins", "roles", "playbooks", "meta", "MANIFEST.json", "README.md"} <= top
    for excluded in ("tests", "molecule", "lab", "scripts", ".ci", ".config", ".ansible", ".venv", ".lab"):
        assert excluded not in top, excluded
    assert not any(name.startswith("inventory/lab") for name in names)
    assert "inventory/production/hosts.yml" in names
    # The changelog ships; antsibull-changelog's plugin cache and the execution environment's
    # definition (ansible-builder would take it for this collection's own requirements) do not.
    assert {"CHANGELOG.md", "changelogs/changelog.yaml", "changelogs/config.yaml", "bindep.txt"} <= set(names)
    for excluded in ("changelogs/.plugin-cache.yaml", "meta/execution-environment.yml",
                     "meta/ee-requirements.txt", "meta/ee-requirements.yml"):
        assert excluded not in names, excluded


def plugin_names(kind, suffix):
    folder = os.path.join(REPO_ROOT, "plugins", kind)
    return sorted(f"advwell.platform.{name[:-len(suffix)]}" for name in os.listdir(folder)
                  if name.endswith(suffix) and not name.startswith("_"))


@pytest.mark.parametrize("plugin_type, name", [("module", name) for name in plugin_names("modules", ".py")]
                         + [("filter", name) for name in plugin_names("filter", ".yml")]
                         + [("test", name) for name in plugin_names("test", ".yml")])
def test_ansible_doc_renders(plugin_type, name):
    result = ansible("ansible-doc", "--json", "-t", plugin_type, name)
    assert result.returncode == 0 and "ERROR" not in result.stderr, result.stderr
    doc = json.loads(result.stdout)[name]["doc"]
    assert doc["short_description"] and doc.get("description"), name


@pytest.mark.parametrize("role", sorted(os.listdir(os.path.join(REPO_ROOT, "roles"))))
def test_ansible_doc_renders_every_role_entry_point(role):
    name = f"advwell.platform.{role}"
    result = ansible("ansible-doc", "--json", "-t", "role", name)
    assert result.returncode == 0 and "ERROR" not in result.stderr, result.stderr
    entry_points = json.loads(result.stdout)[name]["entry_points"]
    assert "main" in entry_points
    for entry, spec in entry_points.items():
        assert spec["short_description"] and spec.get("options"), f"{name} {entry}"
