"""Ansible-compatible inventory: `loader.load_inventory(source) -> model.Inventory`, the `Host` model
(host.py), and `ansible_json.to_ansible_list` for `orc inventory --list`.

Nothing is imported here, so that `from orchestrator.inventory.host import Host` stays cheap."""
