"""`orc cordon` / `orc uncordon` with kubectl's lines, the inventory's `orc_cordoned` beside the store's mark,
`orc get nodes` showing SchedulingDisabled and `describe node` Unschedulable, `orc drain --dry-run` and its
refusals, and PodDisruptionBudgets through apply, `get pdb` and `describe pdb`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.cli.observed import ObservedHost, ObservedPod, Snapshot, write_snapshot
from orchestrator.store import Store, keys, open_store
from tests.unit.cli_support import init_project, orc

pytestmark = pytest.mark.timeout(60)

INVENTORY = """\
all:
  hosts:
    lab1: {ansible_host: 127.0.0.1}
    lab2: {ansible_host: 127.0.0.1}
    lab3: {ansible_host: 127.0.0.1, orc_cordoned: true}
"""
PDB = """\
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec:
  minAvailable: 2
  selector: {matchLabels: {app: web}}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    init_project(tmp_path, monkeypatch, apply_examples=True)
    (tmp_path / "inventory" / "hosts.yaml").write_text(INVENTORY)
    return tmp_path


@pytest.fixture
def store(project: Path) -> Store:
    s = open_store(f"sqlite:{project / '.orc' / 'state.db'}")
    yield s
    s.close()


def observe(store: Store, inventory_cordoned: tuple[str, ...] = ("lab3",)) -> None:
    now = time.time()
    write_snapshot(store, Snapshot(
        taken_at=now - 2,
        hosts=tuple(ObservedHost(h, "Ready", "127.0.0.1") for h in ("lab1", "lab2", "lab3")),
        pods=(ObservedPod("web-aaaaa", "u1", "lab1", "rc/web", "Running", True, "1/1", 0, now - 60, None,
                          {"app": "web"}),
              ObservedPod("solo", "u2", "lab2", None, "Running", True, "1/1", 0, now - 60, None, {})),
        inventory_cordoned=inventory_cordoned,
        budgets={"web": {"currentHealthy": 3, "desiredHealthy": 2, "disruptionsAllowed": 1, "expectedPods": 3}}))


def status_of(text: str) -> dict[str, str]:
    return {line.split()[0]: line.split()[1] for line in text.splitlines()[1:]}


def test_cordon_and_uncordon_say_what_kubectl_says_and_the_inventory_cordon_stays(project: Path, store: Store) -> None:
    observe(store)
    r = orc("cordon", "lab1")
    assert (r.exit_code, r.stdout) == (0, "node/lab1 cordoned\n")
    assert orc("cordon", "lab1", "lab3").stdout == "node/lab1 already cordoned\nnode/lab3 already cordoned\n"
    assert store.get(keys.cordon_key("lab1")) is not None
    assert status_of(orc("get", "nodes").stdout) == {"lab1": "Ready,SchedulingDisabled", "lab2": "Ready",
                                                     "lab3": "Ready,SchedulingDisabled"}
    assert orc("get", "nodes", "--field-selector", "spec.unschedulable=true", "-o", "name").stdout == \
        "node/lab1\nnode/lab3\n"
    assert "Unschedulable:  true (cordoned by orc cordon)" in orc("describe", "node", "lab1").stdout
    assert "Unschedulable:  false" in orc("describe", "node", "lab2").stdout
    assert "true (cordoned by inventory (orc_cordoned))" in orc("describe", "node", "lab3").stdout
    events = [line.split()[2:] for line in orc("get", "events").stdout.splitlines()[1:]]
    assert events == [["NodeNotSchedulable", "node/lab1", "Node", "lab1", "status", "is", "now:", "NodeNotSchedulable"]]
    assert orc("cordon", "lab2", "--dry-run").stdout == "node/lab2 cordoned (dry run)\n"
    assert store.get(keys.cordon_key("lab2")) is None
    r = orc("uncordon", "lab1", "lab2", "lab3")
    assert r.exit_code == 1
    assert r.stdout == "node/lab1 uncordoned\nnode/lab2 already uncordoned\n"
    assert "error: node/lab3 stays cordoned: the inventory sets orc_cordoned: true for lab3" in r.stderr
    assert store.get(keys.cordon_key("lab1")) is None
    assert status_of(orc("get", "nodes").stdout)["lab1"] == "Ready"


def test_an_unknown_host_is_refused_by_name_and_nothing_is_written(project: Path, store: Store) -> None:
    r = orc("cordon", "lab1", "nope", "gone")
    assert r.exit_code == 1
    assert 'nodes "nope" not found' in str(r.exception) and 'nodes "gone" not found' in str(r.exception)
    assert store.get(keys.cordon_key("lab1")) is None


def test_pod_disruption_budgets_apply_list_and_describe_as_kubectl(project: Path, store: Store) -> None:
    (project / "pdb.yaml").write_text(PDB)
    r = orc("apply", "-f", "pdb.yaml")
    assert (r.exit_code, r.stdout) == (0, "poddisruptionbudget.policy/web created\n")
    observe(store)
    out = orc("get", "pdb").stdout.splitlines()
    assert out[0].split() == ["NAME", "MIN", "AVAILABLE", "MAX", "UNAVAILABLE", "ALLOWED", "DISRUPTIONS", "AGE"]
    assert out[1].split()[:4] == ["web", "2", "N/A", "1"]
    doc = orc("get", "poddisruptionbudgets.policy", "web", "-o", "jsonpath={.status.disruptionsAllowed}")
    assert doc.stdout == "1"
    text = orc("describe", "pdb", "web").stdout
    for line in ("Min available:  2", "Selector:       app=web", "Allowed disruptions:  1", "Current:              3",
                 "Desired:              2", "Total:                3"):
        assert line in text, text
    bad = PDB.replace("minAvailable: 2", "minAvailable: 2\n  maxUnavailable: 1\n  unhealthyPodEvictionPolicy: Never")
    (project / "bad.yaml").write_text(bad)
    r = orc("apply", "-f", "bad.yaml")
    assert r.exit_code == 1 and "cannot be both set" in r.stderr
    assert 'spec.unhealthyPodEvictionPolicy: Unsupported value: "Never"' in r.stderr
    assert orc("delete", "pdb/web").exit_code == 0 and store.get("pdb/web") is None


def test_drain_dry_run_says_what_it_would_evict_and_refuses_a_host_with_a_bare_pod(
        project: Path, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first look of a drain is a read-only plan (Engine.plan); here it returns the snapshot above."""
    from orchestrator.cli import drain_cmd
    from orchestrator.cli.observed import read_snapshot

    observe(store)

    class Looked:
        def __init__(self) -> None:
            from orchestrator.controllers.desired import load_desired

            self.snapshot = read_snapshot(store)
            self.desired = load_desired(store)

    class Engine:
        transport = type("T", (), {"close": lambda self: None})()

        def plan(self) -> Looked:
            return Looked()

    monkeypatch.setattr(drain_cmd, "_engine", lambda obj, s: Engine())
    r = orc("drain", "lab1", "--dry-run")
    assert (r.exit_code, r.stdout) == (0, "node/lab1 cordoned (dry run)\nevicting pod default/web-aaaaa (dry run)\n"
                                          "node/lab1 drained (dry run)\n")
    assert store.get(keys.cordon_key("lab1")) is None
    r = orc("drain", "lab2", "--dry-run")
    assert r.exit_code == 1
    assert 'unable to drain node "lab2" due to error: cannot delete Pods that declare no controller: default/solo' \
        in r.stderr
    r = orc("drain", "lab1", "--timeout", "soon")
    assert r.exit_code == 2 and "invalid duration" in r.stderr


def follow(lab: Any, hosts: set[str], limit: float) -> tuple[int, str, str]:
    """`orc drain`'s wait (cli/drain_cmd._follow) over the real engine on simulated hosts: its passes hold the
    reconcile lock (the harness's hosts run no fence step), each pause moves the simulated clock."""
    import click
    from click.testing import CliRunner

    from orchestrator.cli.drain_cmd import _follow

    out: list[int] = []

    @click.command()
    def run() -> None:
        out.append(_follow(lab.engine, lab.store, hosts, limit, lab.project, make_fence=lambda lock: None,
                           sleep=lab.clock.advance))

    r = CliRunner().invoke(run, [])
    assert r.exception is None, r.exception
    return out[0], r.stdout, r.stderr


def test_the_drain_wait_runs_passes_prints_evictions_and_times_out_on_a_budget(tmp_path: Path) -> None:
    from orchestrator.controllers.cordon import mark
    from tests.harness.lab import SimLab
    from tests.unit.plan_fixtures import rc_doc

    lab = SimLab(tmp_path)
    try:
        lab.apply(rc_doc("web", 3))
        lab.reconcile_until_quiet()
        (on_h2,) = [p[1] for p in lab.pods_of("rc/web") if p[0] == "h2"]
        mark(lab.store, "h2", lab.clock(), drain=True)
        code, out, err = follow(lab, {"h2"}, 30)
        assert code == 0 and out == f"evicting pod default/{on_h2}\npod/{on_h2} evicted\nnode/h2 drained\n", out + err
        assert "waiting: rc/web: handover: 1 pods on hosts being drained (h2) keep serving until 3 pods are ready" \
            in err
        assert not [p for p in lab.pods_of("rc/web") if p[0] == "h2"] and len(lab.pods_of("rc/web")) == 3

        lab.apply(rc_doc("web", 3), yaml.safe_load(PDB.replace("minAvailable: 2", "minAvailable: 9")))
        (on_h3,) = [p[1] for p in lab.pods_of("rc/web") if p[0] == "h3"]
        mark(lab.store, "h3", lab.clock(), drain=True)
        code, out, err = follow(lab, {"h3"}, 2)
        assert code == 1 and out == "", out
        assert f'error when evicting pods/"{on_h3}" -n "default" (will retry after 0.5s): Cannot evict pod as it ' \
            "would violate the pod's disruption budget. (the disruption budget pdb/web (minAvailable 9)" in err, err
        assert err.count("error when evicting") == 1  # said once, not every pass
        assert f'error: unable to drain node "h3" due to error: global timeout reached: 2s; pods left: pod/{on_h3}' \
            in err and "There are pending nodes to be drained:\n h3\n" in err
        assert [p[1] for p in lab.pods_of("rc/web") if p[0] == "h3"] == [on_h3]
    finally:
        lab.close()
