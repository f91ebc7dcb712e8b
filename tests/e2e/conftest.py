"""The end-to-end tests' own lab cluster: `tlab` (3 hosts on 10.99.1.0/24), beside any lab of the user's.
It is built once per session and always removed at the end, also when tests fail.

Run under pytest-xdist (`./test.sh` runs `-n 3 --dist loadgroup`), the e2e files are split into E2E_GROUPS
groups of about equal measured time, each group on one worker, and each worker that runs e2e tests builds a
lab of its own (`tlab`, `tlabb`, `tlabc` on 10.99.1/11/21.0/24): the files run side by side on separate
labs while the unit tests fill the other worker."""

from __future__ import annotations

import fcntl
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestrator.lab import cluster
from orchestrator.lab.spec import LabSpec

# Seconds each e2e file took in a full run (a machine loaded to about 10); files not listed count as 60.
E2E_SECONDS = {
    "test_undo_lab": 140, "test_services": 225, "test_reconcile": 200, "test_one_pass": 120,
    "test_rollout_lab": 105, "test_etcd": 89, "test_vantage_lab": 85, "test_whatif_lab": 57,
    "test_kubectl_view": 56, "test_kinds": 47, "test_graceful_and_placement": 34, "test_lab_hosts": 26,
    "test_hostile_lab": 25, "test_pods_lab": 24, "test_real_manifests": 19, "test_identity": 16,
    "test_images_metrics": 11, "test_proxy_zombie": 5, "test_fencing": 5, "test_lab_lifecycle": 3,
    "test_drain_lab": 55, "test_config_objects_lab": 20, "test_rebalance_lab": 50,
}
E2E_GROUPS = 2
TOOLS = ["ip", "iptables", "nsenter", "dockerd", "sshd", "busybox", "ssh-keygen"]


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "end-to-end tests need root (network namespaces, dockerd)"
    from orchestrator.lab.system import which

    gone = [t for t in TOOLS if which(t) is None]
    if gone:
        return f"missing tools {gone}: run scripts/setup.sh"
    return None


@dataclass(frozen=True)
class Lab:
    spec: LabSpec
    inventory: Path
    workdir: Path  # a project folder with orc.yaml pointing at the inventory

    def host(self, i: int):  # type: ignore[no-untyped-def]
        return self.spec.host(i)


def e2e_groups(files: list[str], groups: int = E2E_GROUPS) -> dict[str, int]:
    """file stem -> group: the longest first, each into the group with the least time so far."""
    load = [0.0] * groups
    out = {}
    for f in sorted(set(files), key=lambda f: (-E2E_SECONDS.get(f, 60), f)):
        g = load.index(min(load))
        out[f] = g
        load[g] += E2E_SECONDS.get(f, 60)
    return out


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under xdist, each e2e file joins one of E2E_GROUPS groups (`--dist loadgroup` keeps a group on one
    worker, so a worker's lab serves whole files)."""
    if not getattr(config.option, "numprocesses", None):
        return
    here = Path(__file__).parent
    e2e = [i for i in items if Path(str(i.path)).parent == here]
    groups = e2e_groups([Path(str(i.path)).stem for i in e2e])
    for item in e2e:
        item.add_marker(pytest.mark.xdist_group(f"lab{groups[Path(str(item.path)).stem]}"))


def lab_name_and_subnet() -> tuple[str, int]:
    """ORC_E2E_LAB / ORC_E2E_SUBNET (default tlab, 1); xdist's worker N > 0 gets a lab of its own: a letter
    more in the name, 10 * N more in the subnet."""
    name, subnet = os.environ.get("ORC_E2E_LAB", "tlab"), int(os.environ.get("ORC_E2E_SUBNET", "1"))
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    n = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    if n:
        name, subnet = name[:5] + "abcdefghijklmnopqrstuvwxyz"[n % 26], subnet + 10 * n
    return name, subnet


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    why = _missing()
    if why:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    # ORC_E2E_LAB / ORC_E2E_SUBNET: another lab of the tests' own (e.g. `ulab`, 7) to run a test file beside a
    # full run (tests name hosts by the lab's spec, never by tlab's names).
    name, subnet = lab_name_and_subnet()
    spec = LabSpec(hosts=3, name=name, subnet=subnet)
    # One test session at a time owns a tests' lab on this machine: a second waits here, rather than
    # taking down the lab under the first one's feet.
    lock_path = Path(f"/run/orc-lab-{name}.lock")
    lock_file = lock_path.open("a")
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print("another test session uses the test lab: waiting for it", file=sys.stderr)
        fcntl.flock(lock_file, fcntl.LOCK_EX)
    work = tmp_path_factory.mktemp("tlab-project")
    inventory = work / "inventory" / f"{name}.yaml"
    (work / "orc.yaml").write_text(f"inventory: inventory/{name}.yaml\nssh:\n  connect_timeout: 3\n")
    try:
        cluster.up(spec, inventory)
        yield Lab(spec, inventory, work)
    finally:
        try:
            cluster.down(spec)
            shutil.rmtree(work, ignore_errors=True)
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
            lock_file.close()


def lab_pods(lab: Lab, owner: str | None = None) -> dict[str, list[str]]:
    """host -> pod names running there (by their sandboxes: infra containers, and solo pods' one container,
    the containers that list a pod's containers), straight from each dockerd."""
    from orchestrator.lab import daemons

    out = {}
    for h in lab.spec.lab_hosts():
        args = ["ps", "-a", "--filter", "label=orc.containers", "--format", '{{.Label "orc.pod"}}']
        if owner:
            args[2:2] = ["--filter", f"label=orc.owner={owner}"]
        cp = daemons.docker(h, *args, check=False)
        out[h.name] = sorted(cp.stdout.decode().split()) if cp.returncode == 0 else []
    return out


def remove_managed(lab: Lab) -> None:
    from orchestrator.lab import daemons

    for h in lab.spec.lab_hosts():
        if not daemons.dockerd_pid(h):
            continue
        ids = daemons.docker(h, "ps", "-aq", "--filter", "label=orc.managed=true", check=False).stdout.split()
        if ids:
            daemons.docker(h, "rm", "-f", *[i.decode() for i in ids], check=False)
        vols = daemons.docker(h, "volume", "ls", "-q", check=False).stdout.split()
        vols = [v.decode() for v in vols if v.startswith(b"orc_")]
        if vols:
            daemons.docker(h, "volume", "rm", *vols, check=False)


def reset_proxies(lab: Lab) -> None:
    """What a test's cluster left in each host's proxy (its HAProxy, its config marked with its name, its
    service addresses on lo): gone, so the next test's cluster starts on hosts no other cluster holds."""
    from orchestrator.lab import network, system

    for h in lab.spec.lab_hosts():
        # master and workers alike: a worker left behind would keep the old node ports open
        pids = [p for p in network.netns_pids(h.netns) if Path(f"/proc/{p}/comm").exists()
                and Path(f"/proc/{p}/comm").read_text().strip() == "haproxy"]
        if pids:
            system.terminate(pids, grace=5)
        (h.proxy_dir / "haproxy.cfg").unlink(missing_ok=True)
        cp = system.run(["ip", "netns", "exec", h.netns, "ip", "-4", "-o", "addr", "show", "dev", "lo"], check=False)
        for line in cp.stdout.decode().splitlines():
            words = line.split("\\", 1)[0].split()
            if "inet" in words and words[-1].startswith("lo:orc"):
                ip = words[words.index("inet") + 1]
                system.run(["ip", "netns", "exec", h.netns, "ip", "addr", "del", ip, "dev", "lo"], check=False)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked `also_on_etcd` runs twice, `[sqlite]` and `[etcd]`: the suite proves the etcd backend on
    the same end-to-end work (ORC_E2E_STORE=etcd runs every test on etcd)."""
    if "project" in metafunc.fixturenames and metafunc.definition.get_closest_marker("also_on_etcd"):
        metafunc.parametrize("project", ["sqlite", "etcd"], indirect=True)


@pytest.fixture
def project(lab: Lab, tmp_path: Path, clean_env: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    """A fresh project (its own store) on the shared lab; every container of ours is removed afterwards and
    every lab host is running again, also when the test fails. Its store is the session's etcd (a prefix of
    its own) when the test is the `[etcd]` run of an `also_on_etcd` test or ORC_E2E_STORE=etcd is set, so
    the same tests prove the etcd backend."""
    from orchestrator.lab import daemons

    store = ""
    if getattr(request, "param", None) == "etcd" or os.environ.get("ORC_E2E_STORE") == "etcd":
        store = f"store: etcd://{request.getfixturevalue('etcd').endpoints}\n"
    (tmp_path / "orc.yaml").write_text(store +
        f"cluster: t{abs(hash(tmp_path.name)) % 10**8}\n"
        f"inventory: {lab.inventory}\n"
        "infra_image: local/busybox:1\n"
        'infra_command: [sleep, "2147483647"]\n'
        "grace_period: 4\n"
        "interval: 1\n"
        "ssh:\n  connect_timeout: 2\n")
    try:
        yield tmp_path
    finally:
        for h in lab.spec.lab_hosts():
            if not (daemons.sshd_pid(h) and daemons.dockerd_pid(h)):
                cluster.start_host(lab.spec, h)
        remove_managed(lab)
        reset_proxies(lab)


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME pointing at an empty folder: the user's ~/.ssh (config, known_hosts) plays no part."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("ORC_CONFIG", raising=False)
    monkeypatch.delenv("ORC_INVENTORY", raising=False)
    return home
