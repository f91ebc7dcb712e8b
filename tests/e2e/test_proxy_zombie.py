"""A killed HAProxy that nobody has reaped yet is dead, on the real lab: its pidfile still names a process
called haproxy (a zombie keeps its /proc entry and its name until its parent waits for it, and in a
container whose init does not reap that can be forever), and `kill -USR2` "reloads" it without an error.
orc must start a new HAProxy there, not report a reload of a corpse: every host's node port answers after
one pass. (Found in CI: the e2e fixture that kills a test's proxies left zombies, and the next test's
service answered on no host whose pidfile named one.)"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_identity import NODE_PORT, apply, manifests, reconcile, served_by, wait_served

pytestmark = pytest.mark.e2e


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


@pytest.fixture
def zombie(tmp_path: Path) -> Iterator[int]:
    """A zombie process named `haproxy`: a copy of sleep under that name, killed, and not waited for."""
    exe = tmp_path / "bin" / "haproxy"
    exe.parent.mkdir()
    shutil.copy(shutil.which("sleep") or "/bin/sleep", exe)
    child = subprocess.Popen([str(exe), "600"])
    try:
        child.kill()
        end = time.monotonic() + 5
        while _state(child.pid) != "Z" and time.monotonic() < end:
            time.sleep(0.05)
        assert _state(child.pid) == "Z"
        assert Path(f"/proc/{child.pid}/comm").read_text().strip() == "haproxy"
        yield child.pid
    finally:
        child.wait()  # reaped: nothing of it is left


def test_a_pidfile_naming_an_unreaped_haproxy_gets_a_new_haproxy_started(lab, project: Path, zombie: int) -> None:  # type: ignore[no-untyped-def]
    for h in lab.spec.lab_hosts():  # every host's pidfile names the corpse, as after a kill nobody reaped
        h.proxy_dir.mkdir(parents=True, exist_ok=True)
        (h.proxy_dir / "haproxy.pid").write_text(f"{zombie}\n")
    apply(project, manifests(2, service=True))
    out, err = reconcile(project)
    assert out.count("updated haproxy") == len(lab.spec.lab_hosts()) and err == "", out + err
    for h in lab.spec.lab_hosts():  # a new master runs and its pid is in the pidfile
        pid = int((h.proxy_dir / "haproxy.pid").read_text().split()[0])
        assert pid != zombie and _state(pid) != "Z", h.name
    pods = {line.split("/")[1].split()[0] for line in out.splitlines() if "created pod/" in line}
    assert len(pods) == 2, out
    wait_served(lab, pods)  # every host's node port answers from both pods
    assert None not in served_by(lab, 30), f"a host's port {NODE_PORT} failed"
