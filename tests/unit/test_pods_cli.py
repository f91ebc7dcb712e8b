"""The pure parts of `orc logs`, `orc exec` and `orc run`: targets, durations, which pods a workload or a
selector picks and in which order, the containers chosen, the docker argv built (every value one quoted
element, `--` before the container), the previous run's bound, Ansible's output shape and exit codes, and
the usage errors (kubectl's words) given before anything is read."""

from __future__ import annotations

import shlex

import click
import pytest

from orchestrator.cli.adhoc import HostOutcome, exit_status, render, shell_step, shell_text
from orchestrator.cli.observed import ObservedPod
from orchestrator.cli.pod_docker import (
    LogOptions,
    containers_query,
    exec_argv,
    logs_command,
    parse_containers,
    parse_previous,
    remote_line,
)
from orchestrator.cli.pod_target import (
    Source,
    Target,
    by_logging,
    choose_containers,
    parse_duration,
    parse_target,
    pods_of_workload,
    selector_of,
)
from tests.unit.cli_support import orc


@pytest.mark.parametrize(("text", "want"), [
    ("web-1", Target("pod", "web-1")), ("pod/web-1", Target("pod", "web-1")), ("po/x", Target("pod", "x")),
    ("deploy/web", Target("deploy", "web")), ("deployment/web", Target("deploy", "web")),
    ("rc/web", Target("rc", "web")), ("rs/web", Target("rs", "web")), ("replicasets/web", Target("rs", "web")),
])
def test_targets_in_kubectls_forms(text: str, want: Target) -> None:
    assert parse_target(text) == want


@pytest.mark.parametrize("text", ["svc/web", "deploy/", "pod/a/b", "nodes/lab1"])
def test_other_targets_are_refused_with_the_forms_taken(text: str) -> None:
    with pytest.raises(click.UsageError, match="deploy/NAME"):
        parse_target(text)


def test_exec_may_refuse_workloads() -> None:
    with pytest.raises(click.UsageError, match="POD or pod/NAME"):
        parse_target("deploy/web", workloads=False, command="exec")


@pytest.mark.parametrize(("text", "seconds"), [
    ("5s", 5), ("2m", 120), ("3h", 10800), ("1h30m", 5400), ("1.5h", 5400), ("500ms", 0.5), ("90s", 90)])
def test_durations_as_go_reads_them(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "5d", "m", "1h 30m", "-5s", "5s;rm"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def pod(name: str, **kw: object) -> ObservedPod:
    fields: dict[str, object] = {"host": "lab1", "phase": "Running", "ready": True}
    fields.update(kw)
    return ObservedPod(name=name, **fields)  # type: ignore[arg-type]


def test_a_workload_picks_its_selectors_pods_and_its_owned_ones() -> None:
    pods = [pod("a", labels={"app": "web"}), pod("b", labels={"app": "db"}), pod("c", owner="deploy/web"),
            pod("d", labels={"app": "web", "tier": "x"})]
    deploy = {"kind": "Deployment", "spec": {"selector": {"matchLabels": {"app": "web"}}}}
    assert [p.name for p in pods_of_workload(pods, Target("deploy", "web"), deploy)] == ["a", "c", "d"]
    rc = {"kind": "ReplicationController", "spec": {"selector": {"app": "db"}}}
    assert [p.name for p in pods_of_workload(pods, Target("rc", "db"), rc)] == ["b"]
    rc_without = {"kind": "ReplicationController", "spec": {"template": {"metadata": {"labels": {"tier": "x"}}}}}
    assert str(selector_of(rc_without)) == "tier=x"
    assert pods_of_workload(pods, Target("rs", "none"), {"kind": "ReplicaSet", "spec": {}}) == []


def test_the_pod_shown_first_is_kubectls_running_ready_most_restarted_oldest() -> None:
    pods = [pod("pending", phase="Pending", ready=False), pod("unready", ready=False), pod("young", started_at=20.0),
            pod("old", started_at=10.0), pod("restarted", restarts=3, started_at=30.0)]
    assert [p.name for p in by_logging(pods)] == ["restarted", "old", "young", "unready", "pending"]


def test_containers_chosen_as_kubectl_does() -> None:
    assert choose_containers("p", ["a", "b"], None, False) == (["a"], 'Defaulted container "a" out of: a, b')
    assert choose_containers("p", ["a"], None, False) == (["a"], None)
    assert choose_containers("p", ["a", "b"], None, True) == (["a", "b"], None)
    assert choose_containers("p", ["a", "b"], "b", False) == (["b"], None)
    with pytest.raises(LookupError, match="container c is not valid for pod p"):
        choose_containers("p", ["a", "b"], "c", False)
    assert Source("web-1", "side", "lab1").prefix == "[pod/web-1/side]"


def test_logs_argv_is_quoted_with_double_dash_before_the_container() -> None:
    c = logs_command("web-1", "app", LogOptions(follow=True, tail=10, since=0.2, timestamps=True))
    assert c.render() == "docker logs --follow --tail 10 --since 1s --timestamps -- orc_web-1_app 2>&1"
    assert logs_command("p", "c", LogOptions(tail=-1, since=90.5)).render() == \
        "docker logs --since 91s -- orc_p_c 2>&1"
    until = logs_command("p", "c", LogOptions(), until="2026-01-01T10:00:00.5Z").render()
    assert until == "docker logs --until 2026-01-01T10:00:00.5Z -- orc_p_c 2>&1"
    q = containers_query("web-1", "u-1").render()  # by the pod instance: its infra or solo container
    assert shlex.split(q) == ["docker", "ps", "-a", "--filter", "label=orc.pod-uid=u-1", "--filter",
                              "label=orc.containers", "--format",
                              '{{.Label "orc.containers"}},{{.Label "orc.init-containers"}}']
    assert parse_containers("app,side\n") == ["app", "side"] and parse_containers("\n") == []
    assert parse_containers("app,side,\n") == ["app", "side"]  # a pod without init containers
    assert parse_containers("app,first,second\n") == ["app", "first", "second"]


def test_exec_argv_and_the_remote_line_keep_every_word_one_argument() -> None:
    words = ["sh", "-c", "echo $HOME; rm -rf / #", "it's"]
    argv = exec_argv("p", "c", words, stdin=True, tty=True)
    assert argv == ["docker", "exec", "-i", "-t", "--", "orc_p_c", *words]
    assert shlex.split(remote_line(argv, become=False)) == argv
    sudo = shlex.split(remote_line(argv, become=True))
    assert sudo[:5] == ["sudo", "-n", "--", "sh", "-c"] and shlex.split(sudo[5]) == argv
    assert exec_argv("p", "c", ["ls"], stdin=False, tty=False) == ["docker", "exec", "--", "orc_p_c", "ls"]


@pytest.mark.parametrize(("state", "until"), [
    ("true 0 2026-01-01T10:00:05.123Z 0001-01-01T00:00:00Z", None),  # never restarted
    ("true 0 2026-01-01T10:00:05.123Z 2026-01-01T10:00:04.9Z", "2026-01-01T10:00:04.9Z"),  # docker restart
    ("true 2 2026-01-01T10:00:05Z 2026-01-01T10:00:04.5Z", "2026-01-01T10:00:04.5Z"),  # restart policy
    ("false 0 2026-01-01T10:00:05Z 2026-01-01T10:00:09Z", None),  # exited once, never restarted
    ("false 3 2026-01-01T10:00:05Z 2026-01-01T10:00:09Z", "2026-01-01T10:00:05Z"),  # crash looping
])
def test_the_previous_run_ends_where_it_finished_or_the_current_one_started(state: str, until: str | None) -> None:
    assert parse_previous(state).until == until


def test_unexpected_inspect_output_is_an_error_not_a_flag() -> None:
    with pytest.raises(ValueError):
        parse_previous("true 0 --rm-everything 2026-01-01T10:00:05Z")


def test_run_passes_the_shell_text_as_one_quoted_argument() -> None:
    text = shell_text(["echo", "$((6*7))", "|", "tr", "4", "X;", "echo", "'done'"])
    assert text == "echo $((6*7)) | tr 4 X; echo 'done'"
    step = shell_step(text)
    assert step.argv == ("sh", "-c", text) and shlex.split(step.render()) == ["sh", "-c", text]


def test_ansibles_output_shape() -> None:
    assert render(HostOutcome("lab1", 0, "5.15.0\n")) == "lab1 | CHANGED | rc=0 >>\n5.15.0"
    assert render(HostOutcome("lab2", 2, "", "ls: /x: No such file\n")) == \
        "lab2 | FAILED | rc=2 >>\nls: /x: No such filenon-zero return code"
    assert render(HostOutcome("lab3", message="Failed to connect", unreachable=True)) == \
        'lab3 | UNREACHABLE! => {\n    "changed": false,\n    "msg": "Failed to connect",\n    "unreachable": true\n}'
    assert render(HostOutcome("lab4", message="timed out")).startswith("lab4 | FAILED! => {")


def test_exit_status_as_ansibles() -> None:
    ok, failed, gone = HostOutcome("a", 0), HostOutcome("b", 1), HostOutcome("c", unreachable=True)
    assert exit_status([ok]) == 0 and exit_status([ok, failed]) == 2 and exit_status([failed, gone]) == 4


@pytest.mark.parametrize(("args", "message"), [
    (["logs", "-p", "-f", "web"], "only one of follow (-f) or previous (-p) is allowed"),
    (["logs", "-c", "a", "--all-containers", "web"], "--all-containers=true should not be specified"),
    (["logs", "web", "-l", "app=web"], "only a selector (-l) or a POD name is allowed"),
    (["logs"], "POD or TYPE/NAME is a required argument"),
    (["logs", "--since", "5d", "web"], "invalid duration"),
    (["logs", "--all-pods", "web"], "--all-pods works with TYPE/NAME"),
    (["logs", "svc/web"], "logs takes"),
    (["exec", "web"], "give the command after --"),
    (["exec", "web", "--"], "give the command after --"),
    (["run", "all"], "give the command after --"),
    (["run", "all", "--"], "give the command after --"),
])
def test_usage_errors_before_anything_is_read(args: list[str], message: str) -> None:
    result = orc(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output
