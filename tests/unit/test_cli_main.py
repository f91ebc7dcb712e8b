"""The entry point's own behaviour."""

from __future__ import annotations


def test_verbose_flags_may_follow_the_command_but_never_cross_double_dash() -> None:
    from orchestrator.cli.main import hoist_verbose

    assert hoist_verbose(["reconcile", "-v"]) == ["-v", "reconcile"]
    assert hoist_verbose(["-i", "inv", "hosts", "-vv", "web"]) == ["-vv", "-i", "inv", "hosts", "web"]
    assert hoist_verbose(["exec", "pod/x", "--", "sh", "-v"]) == ["exec", "pod/x", "--", "sh", "-v"]


def test_a_short_option_may_carry_its_value_after_an_equals_sign_as_kubectl_reads_it() -> None:
    from orchestrator.cli.main import split_short_values

    assert split_short_values(["get", "pods", "-o=jsonpath={.items[*].metadata.name}", "-l=app=web"]) == [
        "get", "pods", "-o", "jsonpath={.items[*].metadata.name}", "-l", "app=web"]
    assert split_short_values(["-n=default", "get", "po", "--output=json", "-o", "=x"]) == [
        "-n", "default", "get", "po", "--output=json", "-o", "=x"]
    assert split_short_values(["exec", "p", "--", "sh", "-c=x"]) == ["exec", "p", "--", "sh", "-c=x"]
