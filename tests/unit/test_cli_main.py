"""The entry point's own behaviour."""

from __future__ import annotations


def test_verbose_flags_may_follow_the_command_but_never_cross_double_dash() -> None:
    from orchestrator.cli.main import hoist_verbose

    assert hoist_verbose(["reconcile", "-v"]) == ["-v", "reconcile"]
    assert hoist_verbose(["-i", "inv", "hosts", "-vv", "web"]) == ["-vv", "-i", "inv", "hosts", "web"]
    assert hoist_verbose(["exec", "pod/x", "--", "sh", "-v"]) == ["exec", "pod/x", "--", "sh", "-v"]
