"""Accounting in scheduling: GPU devices recorded per pod and never given twice, ephemeral storage against
the disk's capacity, taints from the inventory with tolerations, cordoned hosts."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from orchestrator.controllers.book import Book
from orchestrator.controllers.cordon import cordoned_hosts
from orchestrator.errors import ConfigError
from orchestrator.inventory.loader import load_inventory
from orchestrator.observe.facts import Gpu
from orchestrator.observe.snapshot import ClusterSnapshot
from orchestrator.plan.planner import plan
from orchestrator.plan.types import CreatePod
from orchestrator.scheduler import NodeInfo, PlacedPod, PodRequest, Resources
from orchestrator.scheduler.state import ClusterState
from tests.unit.plan_fixtures import T0, config, containers_for, desired, host, rc_doc, running_pod

G = 2**30


def snap(*hosts: Any) -> ClusterSnapshot:
    return ClusterSnapshot.build(list(hosts), T0, cluster="c1")


def rc(name: str, replicas: int, *, gpus: int = 0, ephemeral: str | None = None,
       tolerations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    doc = rc_doc(name, replicas)
    c = doc["spec"]["template"]["spec"]["containers"][0]
    if gpus:
        c["resources"]["limits"] = {"nvidia.com/gpu": gpus}
        c["resources"]["requests"]["nvidia.com/gpu"] = gpus
    if ephemeral:
        c["resources"]["requests"]["ephemeral-storage"] = ephemeral
    if tolerations:
        doc["spec"]["template"]["spec"]["tolerations"] = tolerations
    return doc


def creates(p: Any) -> list[CreatePod]:
    return [a for a in p.actions if isinstance(a, CreatePod)]


# --- GPUs ---

GPUS = (Gpu(0, "A100", "GPU-a"), Gpu(1, "A100", "GPU-b"))


@pytest.mark.parametrize(("recorded", "given"), [
    pytest.param(("GPU-b",), ("GPU-a",), id="a running pod's recorded device is not given again"),
    pytest.param(("GPU-a",), ("GPU-b",), id="the other way round"),
])
def test_a_gpu_is_never_given_twice(recorded: tuple[str, ...], given: tuple[str, ...]) -> None:
    d = desired(rc("train", 2, gpus=1))
    run, _ = running_pod(d, "rc/train", "g1", name="train-old")
    run = dataclasses.replace(run, gpu_devices=recorded)
    g1 = dataclasses.replace(host("g1", containers=containers_for(run)), gpus=GPUS)
    p = plan(d, snap(g1), Book(), T0, config(), seed=1)
    (new,) = creates(p)
    assert new.pod.gpu_devices == given
    assert snap(g1).pods[0].gpu_devices == recorded  # read back from the infra container's orc.gpus label


def test_every_gpu_taken_leaves_the_pod_pending() -> None:
    d = desired(rc("train", 3, gpus=1))
    runs = [dataclasses.replace(running_pod(d, "rc/train", "g1", name=f"train-{i}")[0], gpu_devices=(u,))
            for i, u in enumerate(("GPU-a", "GPU-b"))]
    g1 = dataclasses.replace(host("g1", containers=[c for r in runs for c in containers_for(r)]), gpus=GPUS)
    p = plan(d, snap(g1), Book(), T0, config(), seed=1)
    assert creates(p) == [] and "insufficient gpu" in " ".join(p.pending.values())


@pytest.mark.parametrize(("placed", "want"), [
    pytest.param([PlacedPod("x", requests=Resources(gpus=1), gpu_devices=("c",))], ("a",), id="recorded"),
    pytest.param([PlacedPod("x", requests=Resources(gpus=1), gpu_devices=("a",))], ("b",), id="recorded-first"),
    pytest.param([PlacedPod("x", requests=Resources(gpus=2), gpu_devices=("a", "c"))], ("b",), id="two-recorded"),
    # A pod from before devices were recorded: its count is taken from the first free devices.
    pytest.param([PlacedPod("x", requests=Resources(gpus=1))], ("b",), id="legacy-unrecorded"),
])
def test_state_accounts_recorded_gpu_devices(placed: list[PlacedPod], want: tuple[str, ...]) -> None:
    n = NodeInfo("g", allocatable=Resources(4000, 8 * G, 0, 3), gpu_devices=("a", "b", "c"), pods=tuple(placed))
    state = ClusterState([n])
    assert state.place(0, PodRequest("new", requests=Resources(gpus=1))) == want


# --- ephemeral storage ---


@pytest.mark.parametrize(("running", "asked", "fits"), [
    pytest.param("40Gi", "50Gi", True, id="capacity-100Gi-minus-40Gi-requested-takes-50Gi"),
    pytest.param("40Gi", "60Gi", True, id="exact-fit"),
    pytest.param("40Gi", "61Gi", False, id="one-Gi-too-many"),
    pytest.param(None, "90Gi", True, id="free-disk-50Gi-is-not-the-limit"),
])
def test_ephemeral_storage_is_the_disks_capacity_minus_the_requests_on_it(
        running: str | None, asked: str, fits: bool) -> None:
    """The fixture's disk: 100 GiB, 50 GiB free (what the running pods and everything else use). The
    running pods' requests are subtracted once, from the capacity, not from the free space again."""
    docs = [rc("big", 1, ephemeral=asked)] + ([rc("old", 1, ephemeral=running)] if running else [])
    d = desired(*docs)
    cs = containers_for(running_pod(d, "rc/old", "h1", name="old-1")[0]) if running else []
    p = plan(d, snap(host("h1", containers=cs)), Book(), T0, config(), seed=1)
    assert bool(creates(p)) == fits, p.pending
    if not fits:
        assert "insufficient ephemeral-storage" in " ".join(p.pending.values())


# --- taints and tolerations, from the inventory's hosts through the planner ---


def tainted(name: str, *taints: tuple[str, str, str]) -> Any:
    return dataclasses.replace(host(name), taints=tuple(taints))


@pytest.mark.parametrize(("taint", "tolerations", "allowed"), [
    pytest.param(("dedicated", "gpu", "NoSchedule"), None, {"h1"}, id="NoSchedule-keeps-pods-off"),
    pytest.param(("dedicated", "gpu", "NoExecute"), None, {"h1"}, id="NoExecute-keeps-new-pods-off"),
    pytest.param(("dedicated", "gpu", "NoSchedule"),
                 [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}],
                 {"h1", "h2"}, id="tolerated-by-value"),
    pytest.param(("dedicated", "gpu", "NoSchedule"), [{"key": "dedicated", "operator": "Exists"}],
                 {"h1", "h2"}, id="tolerated-by-exists"),
    pytest.param(("dedicated", "gpu", "NoSchedule"),
                 [{"key": "dedicated", "operator": "Equal", "value": "db"}], {"h1"}, id="other-value"),
    pytest.param(("maintenance", "", "NoSchedule"), [{"operator": "Exists"}], {"h1", "h2"}, id="tolerate-all"),
])
def test_taints_and_tolerations_decide_where_pods_go(taint: tuple[str, str, str],
                                                     tolerations: list[dict[str, Any]] | None,
                                                     allowed: set[str]) -> None:
    d = desired(rc("web", 6, tolerations=tolerations))
    p = plan(d, snap(host("h1"), tainted("h2", taint)), Book(), T0, config(), seed=3)
    assert len(creates(p)) == 6
    assert {a.host for a in creates(p)} == allowed


def test_prefer_no_schedule_is_avoided_while_another_host_fits() -> None:
    d = desired(rc("web", 1))
    for seed in range(5):
        p = plan(d, snap(tainted("h1", ("slow", "", "PreferNoSchedule")), host("h2")), Book(), T0, config(),
                 seed=seed)
        assert [a.host for a in creates(p)] == ["h2"]
    only = plan(d, snap(tainted("h1", ("slow", "", "PreferNoSchedule"))), Book(), T0, config(), seed=1)
    assert [a.host for a in creates(only)] == ["h1"]  # a preference, not a rule


def test_a_pod_no_host_tolerates_is_pending_with_the_reason() -> None:
    p = plan(desired(rc("web", 1)), snap(tainted("h1", ("dedicated", "gpu", "NoSchedule"))), Book(), T0,
             config(), seed=1)
    assert creates(p) == [] and "1 untolerated taint dedicated=gpu" in " ".join(p.pending.values())


# --- cordon ---


def test_a_cordoned_host_gets_no_new_pods_and_keeps_its_running_ones() -> None:
    d = desired(rc("web", 4))
    cs = containers_for(running_pod(d, "rc/web", "h2", name="web-old")[0])
    p = plan(d, snap(host("h1"), host("h2", containers=cs)), Book(), T0, config(cordoned=frozenset({"h2"})), seed=1)
    assert {a.host for a in creates(p)} == {"h1"} and len(creates(p)) == 3
    assert [a for a in p.actions if not isinstance(a, CreatePod)] == []  # web-old stays


def test_every_host_cordoned_leaves_pods_pending() -> None:
    p = plan(desired(rc("web", 1)), snap(host("h1")), Book(), T0, config(cordoned=frozenset({"h1"})), seed=1)
    assert creates(p) == [] and "1 host cordoned" in " ".join(p.pending.values())


# --- the inventory: taints and orc_cordoned ---


def load(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "inv.yaml"
    path.write_text(text)
    return load_inventory(path)


def test_inventory_taints_from_host_and_group_vars_and_cordon(tmp_path: Path) -> None:
    inv = load(tmp_path, """
gpu:
  vars:
    taints: ["nvidia.com/gpu=present:NoSchedule", "slow:PreferNoSchedule"]
  hosts:
    g1: {}
    g2:
      taints: ["dedicated=db:NoExecute"]
      orc_cordoned: "yes"
plain:
  hosts:
    p1: {}
""")
    assert inv.host("g1").taints == (("nvidia.com/gpu", "present", "NoSchedule"), ("slow", "", "PreferNoSchedule"))
    assert inv.host("g2").taints == (("dedicated", "db", "NoExecute"),)  # a host var wins, as Ansible's do
    assert inv.host("p1").taints == () and not inv.host("p1").cordoned
    assert inv.host("g2").cordoned and not inv.host("g1").cordoned
    assert cordoned_hosts(inv.hosts()) == {"g2"}
    assert cordoned_hosts(inv.hosts(), recorded={"p1"}) == {"g2", "p1"}  # and those `orc cordon` records


def test_invalid_taints_are_refused_when_the_inventory_loads_all_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        load(tmp_path, """
all:
  hosts:
    h1:
      taints: ["gpu=yes:NoSchedul", "no-effect", "bad key!=x:NoSchedule", "a=b:NoSchedule", "a=c:NoSchedule"]
    h2:
      taints: "gpu=yes:NoSchedule"
    h3:
      orc_cordoned: maybe
""")
    msg = str(e.value)
    assert "inv.yaml" in msg
    assert """inventory host "h1" """ in msg and """inventory host "h2" """ in msg and 'host "h3"' in msg
    assert "taints[0]: 'gpu=yes:NoSchedul': effect 'NoSchedul' must be one of NoSchedule, PreferNoSchedule, NoExecute" in msg
    assert "taints[1]: 'no-effect': must be key=value:Effect or key:Effect" in msg
    assert "taints[2]: 'bad key!=x:NoSchedule': key 'bad key!'" in msg
    assert "taints[4]: 'a=c:NoSchedule': a taint with key 'a' and effect NoSchedule is already set" in msg
    assert "taints: must be a list of key=value:Effect strings, got str 'gpu=yes:NoSchedule'" in msg
    assert "orc_cordoned: 'maybe' is not a boolean" in msg
