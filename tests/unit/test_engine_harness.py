"""The engine harness itself (tests/harness): strict where it cannot know what docker would do, and
faithful to docker where scenarios depend on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.commands.base import sh
from tests.harness.lab import SimLab
from tests.harness.steps import HarnessError, answer, docker_run, parse_run
from tests.unit.plan_fixtures import rc_doc


@pytest.fixture
def lab(tmp_path: Path):
    lab = SimLab(tmp_path, hosts=("h1",))
    yield lab
    lab.close()


def test_a_step_the_harness_does_not_know_fails_the_pass_naming_it(lab: SimLab) -> None:
    (h1,) = lab.hosts
    r = lab.transport.run_batch(h1, [sh("fence", "orc-fence 7")])
    assert r["fence"].exit_code == 127 and "'fence' is not simulated" in r["fence"].stderr
    with pytest.raises(HarnessError, match="'fence' is not simulated.*tests/harness/steps.py"):
        lab.reconcile()


def test_a_changed_probe_command_or_script_line_is_refused(lab: SimLab) -> None:
    with pytest.raises(HarnessError, match="no longer contains"):
        answer(lab.docker["h1"], sh("containers", "docker ps -q"), lab.ctx)
    with pytest.raises(HarnessError, match="does not know the line 'docker kill x'"):
        answer(lab.docker["h1"], sh("delete pod/x", "docker kill x"), lab.ctx)


def test_docker_run_words_are_read_as_docker_reads_them() -> None:
    spec = parse_run(["docker", "run", "-d", "--name", "n", "--workdir=/srv", "--label", "a=b=c", "--",
                      "img:1", "--not-an-option", "x"])
    assert (spec.get("--name"), spec.get("--workdir"), spec.all("--label")) == ("n", "/srv", ["a=b=c"])
    assert (spec.image, spec.args) == ("img:1", ["--not-an-option", "x"])
    with pytest.raises(HarnessError, match="option '--privileged' is not simulated"):
        parse_run(["docker", "run", "--privileged", "--", "img"])


def test_docker_refuses_a_taken_name_and_a_taken_host_port(lab: SimLab) -> None:
    h = lab.docker["h1"]
    run = ["docker", "run", "-d", "--name", "a", "-p", "8080:80/tcp", "--", "nginx:1.25"]
    assert docker_run(h, lab.ctx, run, {}, {}) is None and h.containers["a"].ports == {"80/tcp": [("0.0.0.0", 8080)]}
    assert "is already in use" in (docker_run(h, lab.ctx, run, {}, {}) or "")
    clash = ["docker", "run", "-d", "--name", "b", "-p", "8080:80/tcp", "--", "nginx:1.25"]
    assert "port is already allocated" in (docker_run(h, lab.ctx, clash, {}, {}) or "")
    assert h.containers["b"].state == "created"  # docker made it, then could not start it
    missing = ["docker", "run", "-d", "--name", "c", "--", "nosuch/image:1"]
    assert "pull access denied" in (docker_run(h, lab.ctx, missing, {}, {}) or "")


def test_a_failed_create_leaves_nothing_behind_and_says_why(lab: SimLab) -> None:
    lab.fail_next_run("nginx:1.25")
    lab.apply(rc_doc("web", 1))
    r = lab.reconcile()
    (failed,) = r.failed
    assert "exec format error" in failed.error and "container app" in failed.error
    assert lab.docker["h1"].containers == {}
    assert len(lab.reconcile().results) == 1 and len(lab.pods()) == 1
