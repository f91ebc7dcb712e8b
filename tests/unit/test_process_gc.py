"""The `orc` process collects garbage rarely while its modules load, then freezes them out of every later
collection (`orchestrator/cli/process_gc.py`). Each child is a fresh interpreter; counts of collections and
frozen objects come from `gc` itself, nothing is timed."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

from orchestrator.cli import process_gc

COUNT = """
import gc, json, sys, atexit
seen = []
gc.callbacks.append(lambda phase, info: phase == "stop" and seen.append(info["generation"]))
"""


def _child(code: str, tmp_path: Path, *argv: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", COUNT + code, *argv], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def test_settle_without_defer_changes_nothing() -> None:
    """As in a test's `main()`: this pytest process keeps Python's thresholds and freezes nothing."""
    before = gc.get_threshold(), gc.get_freeze_count()
    process_gc.settle()
    assert (gc.get_threshold(), gc.get_freeze_count()) == before


def test_the_engine_loads_with_at_most_one_collection_then_is_frozen_and_thresholds_come_back(
        tmp_path: Path) -> None:
    code = """
from orchestrator.cli import process_gc
defaults = gc.get_threshold()
process_gc.defer()
deferred = gc.get_threshold()
seen.clear()
import orchestrator.engine, orchestrator.transport.ssh, orchestrator.cli.reconcile_cmd
loading = len(seen)
process_gc.settle()
frozen = gc.get_freeze_count()
junk = [[i] for i in range(5000)]   # new objects after settling: collected as usual, never frozen
process_gc.settle()                  # settled already: nothing more is frozen
print(json.dumps({"defaults": defaults, "deferred": deferred, "loading": loading, "frozen": frozen,
                  "frozen_again": gc.get_freeze_count(), "after": gc.get_threshold(), "young": len(seen) - loading}))
"""
    out = _child(code, tmp_path)
    assert out["deferred"] == [process_gc.STARTUP_THRESHOLD, *out["defaults"][1:]]
    assert out["loading"] <= 1  # Python's own thresholds collect ~100 times while these modules load
    assert out["frozen"] > 20_000  # the engine's modules, classes and models
    assert out["frozen_again"] == out["frozen"]
    assert out["after"] == out["defaults"]
    assert out["young"] >= 5  # 5,000 new lists: the usual thresholds collect again


def _project(tmp_path: Path) -> None:
    # one host that refuses connections: `orc plan` builds the engine, probes, reports it unreachable
    (tmp_path / "inventory.yaml").write_text("all:\n  hosts:\n    h1: {ansible_host: 127.0.0.1, ansible_port: 1}\n")
    (tmp_path / "orc.yaml").write_text("cluster: t\ninventory: inventory.yaml\nstore: sqlite:.orc/state.db\n")


RUN = """
sys.argv = ["orc", *sys.argv[1:]]
atexit.register(lambda: print(json.dumps({"frozen": gc.get_freeze_count(), "threshold": gc.get_threshold(),
                                          "enabled": gc.isenabled()})))
from orchestrator.cli.main import run
run()
"""


def test_the_orc_process_defers_and_a_pass_settles_before_it_works(tmp_path: Path) -> None:
    _project(tmp_path)
    out = _child(RUN, tmp_path, "plan")
    assert out["frozen"] > 20_000
    assert out["threshold"] == list(gc.get_threshold())  # Python's defaults for the pass itself


def test_a_command_that_never_settles_still_collects_at_the_startup_threshold(tmp_path: Path) -> None:
    """`orc --version` never settles: collection stays on (memory stays bounded), only rarer."""
    _project(tmp_path)
    out = _child(RUN, tmp_path, "--version")
    assert out["frozen"] == 0
    assert out["threshold"][0] == process_gc.STARTUP_THRESHOLD
    assert out["enabled"]
