"""Both inventories parse; production only once its vault file exists."""
import json
import shutil

from .ansible_run import REPO_ROOT, ansible

VAULT_PASSWORD = "test-vault-password"


def test_lab_inventory_lists_the_four_hosts():
    result = ansible("ansible-inventory", "-i", "inventory/lab", "--list")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["app_vps"]["hosts"] == ["app-vps"]
    assert data["swarm_workers"]["hosts"] == ["worker"]
    assert data["db_vps"]["hosts"] == ["db-vps"]
    assert data["outsiders"]["hosts"] == ["outsider"]


def groups_and_hosts(data):
    return {group: sorted(value.get("hosts", [])) for group, value in data.items()
            if group not in ("_meta", "all", "ungrouped")}


def test_the_platform_scenario_is_the_lab_with_other_names_and_addresses():
    lab = json.loads(ansible("ansible-inventory", "-i", "inventory/lab", "--list").stdout)
    platform = ansible("ansible-inventory", "-i", "molecule/platform/inventory/hosts.yml",
                       "-i", "inventory/lab", "--list")
    assert platform.returncode == 0, platform.stderr
    # Both together: the same host names in the same groups (the platform's file adds none).
    assert groups_and_hosts(json.loads(platform.stdout)) == groups_and_hosts(lab)
    # Alone, with the lab's group_vars as Molecule links them: its own containers and network.
    alone = ansible("ansible-inventory", "-i", "molecule/platform/inventory/hosts.yml", "--host", "db-vps")
    assert alone.returncode == 0, alone.stderr
    host = json.loads(alone.stdout)
    assert host["ansible_host"] == "platform-db-vps"
    assert host["advwell_lab_network"] == "advwell-platform"


def test_every_scenario_links_the_labs_group_vars():
    import yaml

    with open(f"{REPO_ROOT}/.config/molecule/config.yml", encoding="utf-8") as handle:
        links = yaml.safe_load(handle)["provisioner"]["inventory"]["links"]
    assert links == {"hosts": "inventory/hosts.yml", "group_vars": "../../inventory/lab/group_vars"}
    for scenario in ("platform", "base", "migration"):
        with open(f"{REPO_ROOT}/molecule/{scenario}/molecule.yml", encoding="utf-8") as handle:
            molecule = yaml.safe_load(handle)
        assert "inventory" not in molecule.get("provisioner", {}), f"{scenario} defines variables of its own"
        with open(f"{REPO_ROOT}/molecule/{scenario}/inventory/hosts.yml", encoding="utf-8") as handle:
            hosts = yaml.safe_load(handle)
        listed = {host for group in hosts["all"]["children"].values() for host in group["hosts"]}
        assert {p["name"] for p in molecule["platforms"]} == listed


def production_copy_with_vault(tmp_path):
    """A copy of the example inventory whose vault.yml is the example, encrypted."""
    inventory = tmp_path / "production"
    shutil.copytree(f"{REPO_ROOT}/inventory/production", inventory)
    vault = inventory / "group_vars" / "all" / "vault.yml"
    shutil.copy(inventory / "group_vars" / "all" / "vault.yml.example", vault)
    password_file = tmp_path / "vault-pass"
    password_file.write_text(VAULT_PASSWORD)
    encrypted = ansible("ansible-vault", "encrypt", "--vault-password-file", str(password_file), str(vault))
    assert encrypted.returncode == 0, encrypted.stderr
    assert vault.read_text().startswith("$ANSIBLE_VAULT;")
    return inventory, password_file


def test_production_inventory_needs_and_reads_the_vault(tmp_path):
    inventory, password_file = production_copy_with_vault(tmp_path)

    listed = ansible("ansible-inventory", "-i", str(inventory), "--list",
                     "--vault-password-file", str(password_file))
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["db_vps"]["hosts"] == ["db-vps"]

    result = ansible("ansible-inventory", "-i", str(inventory), "--host", "db-vps",
                     "--vault-password-file", str(password_file))
    assert result.returncode == 0, result.stderr
    host = json.loads(result.stdout)
    assert host["ansible_host"] == "198.51.100.20"
    assert host["advwell_app_address"] == "203.0.113.10"
    assert host["base_hostname"] == "advwell-db"
    assert host["vault_postgres_password"] == "CHANGE-ME"
    assert host["advwell_host_cpus"] == 4
    assert host["advwell_host_memory_mb"] == 16384

    app = ansible("ansible-inventory", "-i", str(inventory), "--host", "app-vps",
                  "--vault-password-file", str(password_file))
    assert app.returncode == 0, app.stderr
    assert json.loads(app.stdout)["vault_legacy_postgres_password"] == "CHANGE-ME"


def test_production_inventory_without_vault_password_fails(tmp_path):
    inventory, _vault = production_copy_with_vault(tmp_path)
    result = ansible("ansible-inventory", "-i", str(inventory), "--list")
    assert result.returncode != 0
    assert "vault" in (result.stdout + result.stderr).lower()


def test_every_variable_the_production_inventory_sets_is_read():
    """A variable nothing reads misleads whoever edits it (the example once set
    advwell_backend_replicas and twelve more that no role or playbook used)."""
    import pathlib
    import re

    import yaml

    root = pathlib.Path(REPO_ROOT)
    inventory = root / "inventory" / "production"
    files = sorted((inventory / "group_vars").rglob("*.yml")) + [inventory / "group_vars" / "all" / "vault.yml.example"]
    names = set()
    for path in files:
        names |= set(yaml.safe_load(path.read_text()) or {})
    hosts = yaml.safe_load((inventory / "hosts.yml").read_text())
    for group in hosts["all"]["children"].values():
        for host_vars in group["hosts"].values():
            names |= set(host_vars or {})
    code = "\n".join(path.read_text(errors="replace") for folder in ("roles", "playbooks", "plugins")
                     for path in (root / folder).rglob("*") if path.is_file())
    # The vault's variables are read by the inventory's own values.
    values = "\n".join(path.read_text() for path in files if path.suffix == ".yml")

    def read(name):
        return re.search(rf"\b{re.escape(name)}\b", values if name.startswith("vault_") else code)

    unread = sorted(name for name in names if not name.startswith("ansible_") and not read(name))
    assert unread == [], f"set in inventory/production but read by no role, playbook or plugin: {unread}"
