"""`orc set image` and `orc rollout history|undo|pause|resume|restart` in-process on a project made by `orc
init`: kubectl's lines on stdout, kubectl's errors with exit 1, usage errors with exit 2, nothing written
when refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.unit.cli_support import init_project, orc
from tests.unit.test_revisions import deploy


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    init_project(tmp_path, monkeypatch)
    (tmp_path / "web.yaml").write_text(yaml.safe_dump(deploy("nginx:1.25")))
    assert orc("apply", "-f", "web.yaml").exit_code == 0
    return tmp_path


def said(r: object) -> str:
    """What the user reads: the output, or the error main() prints for an OrcError (`error: ...`)."""
    exc = getattr(r, "exception", None)
    from orchestrator.errors import OrcError

    return f"error: {exc}\n" if isinstance(exc, OrcError) else str(getattr(r, "output", ""))


def ok(*args: str) -> str:
    r = orc(*args)
    assert r.exit_code == 0, r.output
    return r.output


def image_of() -> str:
    out = ok("get", "deploy", "web", "-o", "yaml")
    return yaml.safe_load(out)["spec"]["template"]["spec"]["containers"][0]["image"]


def test_set_image_then_history_and_undo_as_kubectl_prints_them(project: Path) -> None:
    assert ok("set", "image", "deploy/web", "web=nginx:1.27") == "deployment.apps/web image updated\n"
    assert ok("set", "image", "deploy/web", "web=nginx:1.27") == ""  # nothing changed: quiet
    assert ok("rollout", "history", "deploy/web") == (
        "deployment.apps/web\nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n")
    one = ok("rollout", "history", "deploy/web", "--revision", "1")
    assert one.startswith("deployment.apps/web with revision #1\nPod Template:\n  Labels:  app=web\n")
    assert "    Image:    nginx:1.25\n" in one
    dry = ok("rollout", "undo", "deploy/web", "--dry-run")
    assert "nginx:1.25" in dry and dry.endswith("deployment.apps/web rolled back (dry run)\n")
    assert image_of() == "nginx:1.27"  # the dry run wrote nothing
    assert ok("rollout", "undo", "deploy/web") == "deployment.apps/web rolled back\n"
    assert image_of() == "nginx:1.25"
    assert ok("rollout", "history", "deploy/web").splitlines()[2:] == ["2         <none>", "3         <none>"]
    assert ok("rollout", "undo", "deploy/web", "--to-revision", "3") == (
        "deployment.apps/web skipped rollback (current template already matches revision 3)\n")


def test_pause_resume_restart_print_kubectls_lines_and_errors(project: Path) -> None:
    assert ok("rollout", "pause", "deploy/web") == "deployment.apps/web paused\n"
    r = orc("rollout", "pause", "deploy/web")
    assert (r.exit_code, said(r)) == (1, 'error: deployments.apps "web" is already paused\n')
    r = orc("rollout", "restart", "deploy/web")
    assert r.exit_code == 1 and "can't restart paused deployment (run rollout resume first)" in said(r)
    assert ok("rollout", "resume", "deploy/web") == "deployment.apps/web resumed\n"
    assert ok("rollout", "restart", "deploy/web") == "deployment.apps/web restarted\n"
    out = yaml.safe_load(ok("get", "deploy", "web", "-o", "yaml"))
    assert "kubectl.kubernetes.io/restartedAt" in out["spec"]["template"]["metadata"]["annotations"]


def test_refusals_exit_non_zero_and_write_nothing(project: Path) -> None:
    before = ok("get", "deploy", "web", "-o", "yaml")
    for args, code, text in [
        (("set", "image", "deploy/web", "nope=x:1"), 1, 'unable to find container named "nope"'),
        (("set", "image", "deploy/web", "web=bad image"), 1,
         'Deployment "web" is invalid: spec.template.spec.containers[0].image'),
        (("set", "image", "deploy/web", "web"), 2, "is not CONTAINER=IMAGE"),
        (("set", "image", "svc/web", "web=x:1"), 2, "give deploy/NAME or rc/NAME"),
        (("rollout", "undo", "deploy/web"), 1, 'no rollout history found for deployment "web"'),
        (("rollout", "undo", "deploy/web", "--to-revision", "7"), 1, "unable to find specified revision 7"),
        (("rollout", "history", "deploy/web", "--revision", "7"), 1, "unable to find the specified revision"),
        (("rollout", "pause", "rc/web"), 2, "give deploy/NAME"),
        (("rollout", "history", "deploy/nope"), 1, 'deployments.apps "nope" not found'),
        (("rollout", "status", "deploy/nope"), 1, 'deployments.apps "nope" not found'),
        (("rollout", "status", "rc/nope"), 1, 'replicationcontrollers "nope" not found'),
    ]:
        r = orc(*args)
        assert r.exit_code == code and text in said(r), (args, r.exit_code, said(r))
    assert ok("get", "deploy", "web", "-o", "yaml") == before


def test_set_image_takes_an_rc_and_the_help_teaches(project: Path) -> None:
    from tests.unit.plan_fixtures import rc_doc

    (project / "rc.yaml").write_text(yaml.safe_dump(rc_doc("web", 2)))
    assert orc("apply", "-f", "rc.yaml").exit_code == 0
    assert ok("set", "image", "rc/web", "*=busybox:1.36") == "replicationcontroller/web image updated\n"
    assert ok("rollout", "history", "rc/web").startswith("replicationcontroller/web\nREVISION")
    for args in (("set", "image", "--help"), ("rollout", "undo", "--help"), ("rollout", "history", "--help")):
        assert "Examples:" in ok(*args)
