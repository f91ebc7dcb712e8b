"""`orc get -w` on an etcd store follows etcd's native watch: a change another process applies is printed
within a second, a deletion as such, and Ctrl-C ends it quietly."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.etcd_server import EtcdCluster
from tests.unit.cli_support import as_foreground_job, init_project

pytestmark = pytest.mark.timeout(60)

POD = """\
apiVersion: v1
kind: Pod
metadata: {name: solo, labels: {app: solo}}
spec:
  containers: [{name: a, image: local/busybox:1}]
"""


def _orc(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orchestrator.cli.main", *args], cwd=project,
                          capture_output=True, text=True, timeout=30)


def test_get_watch_prints_another_laptops_apply_within_a_second(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, etcd: EtcdCluster) -> None:
    project = init_project(tmp_path, monkeypatch)
    config = project / "orc.yaml"
    config.write_text(config.read_text().replace("store: sqlite:.orc/state.db", f"store: etcd://{etcd.endpoints}"))
    assert _orc(project, "apply", "-f", "manifests/").returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "orchestrator.cli.main", "get", "pods", "-w"], cwd=project,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"}, preexec_fn=as_foreground_job)
    lines: queue.Queue[tuple[float, str]] = queue.Queue()
    listed = threading.Event()
    threading.Thread(target=lambda: [lines.put((time.time(), x)) for x in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
    threading.Thread(target=lambda: [listed.set() for x in proc.stderr if "No resources" in x],  # type: ignore[union-attr]
                     daemon=True).start()

    def wait_for(text: str, timeout: float = 10) -> tuple[float, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                t, line = lines.get(timeout=0.1)
            except queue.Empty:
                continue
            if text in line:
                return t, line
        raise AssertionError(f"{text!r} not printed within {timeout}s")

    try:
        assert listed.wait(15)  # listed (no pods yet); the watch starts at the listing's revision + 1
        (project / "solo.yaml").write_text(POD)
        assert _orc(project, "apply", "-f", "solo.yaml").returncode == 0
        applied = time.time()
        t, line = wait_for("solo")
        assert line.split()[:3] == ["solo", "0/1", "Pending"]
        assert t - applied < 1.0, f"printed {t - applied:.2f}s after the apply"
        assert _orc(project, "delete", "pod/solo").returncode == 0
        assert wait_for("(deleted)")[1].split()[0] == "solo"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
