"""Cron says what is wrong: a pass with pods that cannot be scheduled prints one line per pending pod with
the reason and exits 5; `orc plan` does not say "No changes" then. Under --watch every line carries its time
and a lasting condition is printed once, again when it changes, and every few minutes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.act.events import human
from orchestrator.cli.reconcile_cmd import _exit_code, _report
from orchestrator.cli.report_lines import Lines, condition_key
from orchestrator.errors import EXIT_OK, EXIT_PENDING
from tests.harness.lab import SimLab
from tests.unit.plan_fixtures import rc_doc


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[SimLab]:
    lab = SimLab(tmp_path)
    yield lab
    lab.close()


def test_pending_pods_are_one_line_each_on_stderr_and_exit_5(lab: SimLab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.apply(rc_doc("web", 1), rc_doc("big", 2, memory="64Gi"))
    result = lab.reconcile()
    _report(result, lab.engine, quiet=False, human=human, verbose=0)
    out, err = capsys.readouterr()
    pending = [x for x in err.splitlines() if x.startswith("pending: ")]
    assert len(pending) == 2 and all("rc/big: pod big-" in x and "insufficient memory" in x for x in pending)
    assert "created pod/web-" in out
    assert _exit_code(result) == EXIT_PENDING
    again = lab.reconcile()
    _report(again, lab.engine, quiet=True, human=human, verbose=0)  # -q and nothing changed: still said
    assert len([x for x in capsys.readouterr().err.splitlines() if x.startswith("pending: ")]) == 2
    lab.apply(rc_doc("big", 0))
    assert _exit_code(lab.reconcile()) == EXIT_OK


def test_watch_lines_carry_their_time_and_a_lasting_condition_is_printed_once(capsys: pytest.CaptureFixture[str]) -> None:
    now = [1_800_000_000.0]
    lines = Lines(watch=True, every=300, clock=lambda: now[0])
    for _ in range(3):
        lines.condition("pending: rc/big: pod big-x7k2p: 0/3 hosts are available: 3 insufficient memory.")
        lines.end_pass()
        now[0] += 10
    lines.condition("pending: rc/big: pod big-q9z8a: 0/3 hosts are available: 3 insufficient memory.")
    lines.end_pass()  # another generated name, the same condition
    first = capsys.readouterr().err.splitlines()
    assert len(first) == 1 and first[0].startswith("2027-01-15T08:00:00Z pending: rc/big")
    now[0] += 300
    lines.condition("pending: rc/big: pod big-x7k2p: 0/3 hosts are available: 3 insufficient memory.")
    lines.end_pass()
    assert len(capsys.readouterr().err.splitlines()) == 1  # due again after five minutes
    lines.condition("pending: rc/big: pod big-x7k2p: 0/3 hosts are available: 2 node selector mismatch.")
    lines.end_pass()
    assert "node selector mismatch" in capsys.readouterr().err  # changed: printed at once
    lines.end_pass()  # gone ...
    lines.condition("pending: rc/big: pod big-x7k2p: 0/3 hosts are available: 2 node selector mismatch.")
    assert capsys.readouterr().err  # ... and back: printed again
    assert condition_key("next try in 8s (back-off 10s)") == condition_key("next try in 3s (back-off 10s)")
    one = Lines()  # one pass (cron): every line, no time
    one.condition("error: x")
    one.condition("error: x")
    assert capsys.readouterr().err == "error: x\nerror: x\n"


def test_a_rollout_under_way_is_progress_not_pending_pods_and_a_stuck_one_is(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from tests.unit.test_engine_rollout import settle, web

    lab = SimLab(tmp_path, grace_period=40.0, step=5.0)
    try:
        lab.apply(*web("Deployment", 3, "nginx:1.25", strategy={"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}))
        settle(lab, "deploy/web", 3)
        lab.apply(*web("Deployment", 3, "nginx:1.27", strategy={"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}))
        result = lab.reconcile()
        assert "deploy/web: rollout" in result.plan.pending and not result.plan.blocked
        assert _exit_code(result) == EXIT_OK  # a cron pass in the middle of a rollout is fine
        _report(result, lab.engine, quiet=True, human=human, verbose=0)
        assert "pending:" not in capsys.readouterr().err  # -q: no news to mail
    finally:
        lab.close()
    from orchestrator.plan.types import Plan

    stuck = Plan(pending={"deploy/web: rollout": "rolling update: 1/3 pods updated"},
                 book={"rollouts": {"deploy/web": {"conditions": [
                     {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]}}})
    assert stuck.blocked == stuck.pending  # past progressDeadlineSeconds: a problem, exit 5
    handover = Plan(pending={"rc/web: handover": "2 pods ... keep serving", "rc/big": "0/3 hosts are available"})
    assert list(handover.blocked) == ["rc/big"]
