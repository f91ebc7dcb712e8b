"""A no-op `orc reconcile` pass loads only what a no-op needs: in a fresh interpreter that imports what the
CLI imports for `reconcile` (the SSH transport included), one pass over a settled cluster with a NodePort
service (the real engine over the simulated hosts, their state carried over from this process) leaves
numpy (the scheduler: nothing is placed), jinja2 (nothing is rendered), unittest.mock and invoke (paramiko's
`Match exec` helper) unimported, and builds no pydantic model: orc.yaml's settings and the stored manifests
come from their last validation (orchestrator/validated_cache.py), so no validator or serializer is made.
Deterministic: it reads sys.modules and the models' build state, it times nothing."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from orchestrator.config import load_project
from tests.harness.lab import SimLab
from tests.unit.plan_fixtures import rc_doc

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("numpy", "jinja2", "unittest.mock", "invoke", "asyncio")
# the scheduler's types (their classes): only rebalance, which asks which hosts a pod may go to, needs them
SCHEDULER_TYPES = "orchestrator.scheduler.types"

BUILT = """
def built():
    from pydantic import BaseModel
    out, stack = [], [BaseModel]
    while stack:
        for c in stack.pop().__subclasses__():
            stack.append(c)
            if c.__module__.startswith("orchestrator.") and c.__dict__.get("__pydantic_complete__"):
                out.append(c.__module__ + "." + c.__qualname__)
    return sorted(set(out))
"""

CHILD = """
import json, pickle, sys
from pathlib import Path
import orchestrator.cli.main, orchestrator.cli.reconcile_cmd, orchestrator.cli.services, orchestrator.leader
import orchestrator.act.fence, orchestrator.controllers.moved_keys, orchestrator.transport.ssh, orchestrator.store.sqlite
from tests.harness.lab import SimLab
root = Path(sys.argv[1])
state = pickle.loads((root / "hosts.pickle").read_bytes())
lab = SimLab(root, hosts=tuple(state["docker"]), start=state["now"], settings=state["settings"])
for h in state["docker"].values():
    h.clock = lab.clock
lab.docker = state["docker"]
before = {m: m in sys.modules for m in HEAVY}
built_before = built()
r = lab.reconcile()
print(json.dumps({"changed": r.changed, "errors": r.errors, "actions": [a.verb for a in r.plan.actions],
                  "before": before, "after": {m: m in sys.modules for m in HEAVY},
                  "built_before": built_before, "built_after": built()}))
"""


def svc_docs(replicas: int) -> list[dict[str, Any]]:
    rc = rc_doc("web", replicas)
    rc["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 80}]
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
           "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 80}]}}
    return [rc, svc]


@pytest.mark.parametrize("settings", [{}, {"rebalance": {"enabled": True}}], ids=["default", "rebalance"])
def test_a_no_op_pass_imports_no_scheduler_template_engine_mock_or_invoke(tmp_path: Path,
                                                                          settings: dict[str, Any]) -> None:
    """Also with rebalance on: an even spread is seen without the scheduler (only its types)."""
    lab = SimLab(tmp_path, settings=settings)
    try:
        lab.apply(*svc_docs(3))
        lab.reconcile_until_quiet(limit=4)
        assert not lab.reconcile().changed
        load_project(str(tmp_path / "orc.yaml"))  # as the next cron run does, once .orc/ is there
        for h in lab.docker.values():
            h.clock = None  # type: ignore[assignment]  # the child gives them its own
        (tmp_path / "hosts.pickle").write_bytes(pickle.dumps({"docker": lab.docker, "now": lab.clock(),
                                                               "settings": settings}))
    finally:
        lab.close()
    heavy = HEAVY if settings else (*HEAVY, SCHEDULER_TYPES)
    code = f"HEAVY = {heavy!r}\n" + BUILT + CHILD
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.splitlines()[-1])
    assert not out["changed"] and not out["errors"] and out["actions"] == [], out
    assert not any(out["before"].values()), f"imported by the CLI's modules already: {out['before']}"
    assert not any(out["after"].values()), f"imported by a no-op pass: {out['after']}"
    assert out["built_before"] == [] and out["built_after"] == [], out


def test_the_child_would_see_a_pass_that_places_and_renders(tmp_path: Path) -> None:
    """The check above can fail: a pass that places and renders does load numpy and jinja2, and one whose
    manifests were not validated before builds their models."""
    code = (BUILT + "import sys\nfrom pathlib import Path\nfrom tests.harness.lab import SimLab\n"
            "import tests.unit.test_noop_imports as t\n"
            "lab = SimLab(Path(sys.argv[1]))\nlab.apply(*t.svc_docs(2))\nlab.reconcile()\n"
            "print('numpy' in sys.modules, 'jinja2' in sys.modules,\n"
            "      'orchestrator.model.objects.ReplicationController' in built())\n")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "True", "True"]


def test_ssh_config_match_exec_is_honoured_though_paramiko_is_imported_without_invoke(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.write_text("Host web\n  HostName web.internal\n  Port 2200\n")
    matching = tmp_path / "matching"
    matching.write_text('Match exec "true"\n  HostName yes.internal\nMatch exec "false"\n  User nobody-here\n'
                        "Host *\n  User deploy\n")
    code = ("import sys\nfrom orchestrator.inventory.host import Host\n"
            "from orchestrator.transport.ssh_config import load_ssh_config, resolve\n"
            "e = resolve(Host('web', 'web'), load_ssh_config(sys.argv[1]))\n"
            "print(e.hostname, e.port, 'invoke' in sys.modules)\n"
            "e = resolve(Host('web', 'web'), load_ssh_config(sys.argv[2]))\n"
            "print(e.hostname, e.user, 'invoke' in sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(plain), str(matching)], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["web.internal 2200 False", "yes.internal deploy True"]
