"""`orc lab up|status|down|stop|start`: a real multi-host cluster on this machine (see LAB.md).

Each host is a network namespace on a bridge, with its own sshd (own host key, empty /root) and dockerd
(own data and exec roots), the base image loaded, and an Ansible inventory plus a known_hosts file written
for it. Everything the lab creates is found again by its names and paths, so `down` removes exactly that."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml

from orchestrator.errors import LabError
from orchestrator.lab import daemons, image, network, system
from orchestrator.lab.spec import BASE_IMAGE, LabHost, LabSpec

INVENTORY_MARKER = "# written by `orc lab up`"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class HostStatus:
    name: str
    address: str
    rack: str
    netns: bool
    sshd: int | None
    dockerd: int | None

    @property
    def state(self) -> str:
        if self.netns and self.sshd and self.dockerd:
            return "Running"
        if not self.netns:
            return "Absent"
        return "Stopped" if not (self.sshd or self.dockerd) else "Degraded"


def _quiet(_: str) -> None:
    pass


def _state_file(spec: LabSpec) -> Path:
    return spec.data_dir / "state.json"


def load_state(name: str = "lab") -> dict:
    try:
        return json.loads(_state_file(LabSpec(name=name)).read_text())
    except (OSError, ValueError):
        return {}


def spec_of(name: str = "lab") -> LabSpec:
    """The spec of an existing lab (as `up` recorded it), or the default one."""
    st = load_state(name)
    return LabSpec(hosts=st.get("hosts", 3), name=name, subnet=st.get("subnet", 0))


def _save_state(spec: LabSpec, state: dict) -> None:
    spec.data_dir.mkdir(parents=True, exist_ok=True)
    _state_file(spec).write_text(json.dumps(state, indent=2) + "\n")


def existing_hosts(spec: LabSpec) -> list[LabHost]:
    p = spec.netns_prefix
    return [spec.host(i) for i in sorted(int(n[len(p):]) for n in network.our_netns(spec))]


def up(spec: LabSpec, inventory_path: Path, progress: Progress = _quiet) -> list[HostStatus]:
    system.check_prerequisites()
    spec.data_dir.mkdir(parents=True, exist_ok=True)
    spec.run_dir.mkdir(parents=True, exist_ok=True)
    hosts = spec.lab_hosts()
    extra = [h for h in existing_hosts(spec) if h.index > spec.hosts]
    for h in extra:
        progress(f"removing {h.name} (beyond --hosts {spec.hosts})")
        _remove_host(h)

    spec.ssh_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not spec.client_key.exists():
        system.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "orc-lab-client", "-f",
                    str(spec.client_key)])

    progress(f"network: bridge {spec.bridge}, {len(hosts)} namespaces")
    network.ensure_bridge(spec)
    for h in hosts:
        network.ensure_host_netns(spec, h)
        daemons.write_sshd_config(h, spec)

    progress("starting dockerd and sshd on every host")
    for h in hosts:
        daemons.start_dockerd(h)
        daemons.start_sshd(h)
    rootfs = image.busybox_rootfs()

    def ready(h: LabHost) -> None:
        daemons.wait_dockerd(h)
        image.load_base_image(h, rootfs)

    with ThreadPoolExecutor(max_workers=min(8, len(hosts))) as pool:
        for _ in pool.map(ready, hosts):
            pass
    progress(f"base image {BASE_IMAGE} on every host")

    write_known_hosts(spec, hosts)
    write_inventory(spec, hosts, inventory_path)
    _save_state(spec, {"hosts": spec.hosts, "subnet": spec.subnet, "inventory": str(inventory_path.resolve())})
    progress(f"inventory written to {inventory_path}")
    return status(spec)


def write_known_hosts(spec: LabSpec, hosts: list[LabHost]) -> None:
    lines = []
    for h in hosts:
        key = h.host_key.with_suffix(".pub").read_text().split()
        lines.append(f"{h.address} {key[0]} {key[1]}\n")
    spec.known_hosts.write_text("".join(lines))


def inventory_doc(spec: LabSpec, hosts: list[LabHost]) -> dict:
    return {"all": {"children": {spec.name: {
        "hosts": {h.name: {
            "ansible_host": h.address,
            "labels": {"rack": h.rack},
            "haproxy_config": str(h.proxy_dir / "haproxy.cfg"),
            "haproxy_pidfile": str(h.proxy_dir / "haproxy.pid"),
            "haproxy_socket": str(h.proxy_dir / "admin.sock"),
            # What orc keeps on the host (fencing state, act/fence.py; the pods' hosts file per cluster):
            # per host, as all lab hosts share one disk.
            "orc_state_dir": str(h.state_dir),
        } for h in hosts},
        "vars": {
            "ansible_user": "root",
            "ansible_ssh_private_key_file": str(spec.client_key),
            "orc_known_hosts_file": str(spec.known_hosts),
            # All lab hosts share this machine's kernel and /proc: capacity comes from here.
            "cpu": "2",
            "memory": "4Gi",
            "haproxy_mode": "master-worker",
        },
    }}}}


def write_inventory(spec: LabSpec, hosts: list[LabHost], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and not path.read_text().startswith(INVENTORY_MARKER):
        raise LabError(f"{path} exists and was not written by `orc lab up`; "
                       "move it away or pass another path with --inventory-out")
    text = (f"{INVENTORY_MARKER} ({spec.hosts} hosts); `orc lab down` removes it.\n"
            + yaml.safe_dump(inventory_doc(spec, hosts), sort_keys=False))
    path.write_text(text)


def status(spec: LabSpec) -> list[HostStatus]:
    present = set(network.our_netns(spec))
    out = []
    for h in existing_hosts(spec) or spec.lab_hosts():
        out.append(HostStatus(h.name, h.address, h.rack, h.netns in present,
                              daemons.sshd_pid(h), daemons.dockerd_pid(h)))
    return out


def stop_host(spec: LabSpec, h: LabHost) -> None:
    """Take a host down as a power cut would look from outside: sshd and dockerd gone, containers too."""
    if h.netns not in network.our_netns(spec):
        raise LabError(f"{h.name} is not part of the lab")
    daemons.stop_sshd(h)
    daemons.stop_dockerd(h, remove_containers=False)
    daemons.kill_leftovers(h)


def start_host(spec: LabSpec, h: LabHost) -> None:
    if h.netns not in network.our_netns(spec):
        raise LabError(f"{h.name} is not part of the lab; run `orc lab up --hosts N`")
    daemons.start_dockerd(h)
    daemons.start_sshd(h)
    daemons.wait_dockerd(h)


def _remove_host(h: LabHost) -> None:
    daemons.stop_sshd(h)
    daemons.stop_dockerd(h, remove_containers=True)
    daemons.kill_leftovers(h)
    network.remove_host_netns(h)
    system.unmount_all(h.data_dir)
    system.unmount_all(h.run_dir)
    shutil.rmtree(h.data_dir, ignore_errors=True)
    shutil.rmtree(h.run_dir, ignore_errors=True)


def down(spec: LabSpec, progress: Progress = _quiet) -> None:
    system.check_prerequisites()
    state = load_state(spec.name)
    hosts = existing_hosts(spec)
    progress(f"removing {len(hosts)} hosts")
    if hosts:
        with ThreadPoolExecutor(max_workers=min(8, len(hosts))) as pool:
            for _ in pool.map(_remove_host, hosts):
                pass
    # Anything still holding our paths (a host dir left from a crashed run).
    leftovers = system.pids_matching(str(spec.run_dir) + "/") + system.pids_matching(str(spec.data_dir) + "/")
    if leftovers:
        system.terminate(leftovers, grace=5)
    network.remove_bridge(spec)
    system.unmount_all(spec.data_dir)
    system.unmount_all(spec.run_dir)
    inv = state.get("inventory")
    if inv and Path(inv).is_file() and Path(inv).read_text().startswith(INVENTORY_MARKER):
        Path(inv).unlink()
    shutil.rmtree(spec.data_dir, ignore_errors=True)
    shutil.rmtree(spec.run_dir, ignore_errors=True)
    for parent in (spec.data_dir.parent, spec.run_dir.parent):
        if parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
