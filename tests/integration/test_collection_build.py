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


ROLE_NAMES = [f"advwell.platform.{role}" for role in sorted(os.listdir(os.path.join(REPO_ROOT, "roles")))]
PLUGINS = {"module": plugin_names("modules", ".py"), "filter": plugin_names("filter", ".yml"),
           "test": plugin_names("test", ".yml"), "role": ROLE_NAMES}


@pytest.fixture(scope="module")
def rendered():
    """ansible-doc's run over every plugin of each type, one call per type (a call costs
    seconds of start-up; a plugin that does not render fails the tests of its whole type)."""
    return {plugin_type: ansible("ansible-doc", "--json", "-t", plugin_type, *names)
            for plugin_type, names in PLUGINS.items()}


def rendered_doc(rendered, plugin_type, name):
    result = rendered[plugin_type]
    assert result.returncode == 0 and "ERROR" not in result.stderr, result.stderr
    return json.loads(result.stdout)[name]


@pytest.mark.parametrize("plugin_type, name", [(plugin_type, name) for plugin_type in ("module", "filter", "test")
                                               for name in PLUGINS[plugin_type]])
def test_ansible_doc_renders(rendered, plugin_type, name):
    doc = rendered_doc(rendered, plugin_type, name)["doc"]
    assert doc["short_description"] and doc.get("description"), name


@pytest.mark.parametrize("name", PLUGINS["role"])
def test_ansible_doc_renders_every_role_entry_point(rendered, name):
    entry_points = rendered_doc(rendered, "role", name)["entry_points"]
    assert "main" in entry_points
    for entry, spec in entry_points.items():
        assert spec["short_description"] and spec.get("options"), f"{name} {entry}"
