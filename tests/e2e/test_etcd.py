"""Several controllers sharing one cluster through etcd, on the real lab: two `--watch` controllers in two
project folders (two "laptops") with one etcd store; one leads, the other stands by. A leader stopped past
its lease is replaced within the lease and a pass; resumed, it is refused by the hosts and steps down; a
change made from the other folder wakes the leader within a second; the etcd leader of a 3-member cluster
is killed while replicas are scaled up and down, and nothing applied is lost.

ORC_E2E_SOAK_SECONDS sets how long the scaling runs (default 60)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from tests.e2e.conftest import lab_pods
from tests.e2e.helpers import orc, quiet_pass
from tests.etcd_server import EtcdCluster, etcd_cluster

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600, func_only=True)]  # not the wait for the lab

TTL = 2
RC = """\
apiVersion: v1
kind: ReplicationController
metadata: {{name: web}}
spec:
  replicas: {replicas}
  selector: {{app: web}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: local/busybox:1
        command: [sleep, "3600"]
        resources: {{requests: {{cpu: 50m, memory: 16Mi}}}}
"""


class Lines:
    """A process's stream read in a thread, each line with the time it came."""

    def __init__(self, stream: IO[str]):
        self.lines: list[tuple[float, str]] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.append((time.time(), line.rstrip("\n")))

    def wait_for(self, text: str, timeout: float, after: float = 0.0) -> float:
        """When the first line containing `text` (and read after `after`) came; fails after `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for t, line in list(self.lines):
                if t >= after and text in line:
                    return t
            time.sleep(0.05)
        raise AssertionError(f"no line with {text!r} within {timeout}s:\n" + self.text()[-3000:])

    def text(self) -> str:
        return "\n".join(line for _, line in self.lines)


class Controller:
    """`orc -v reconcile --watch` in a project folder, its events in a file."""

    def __init__(self, folder: Path, name: str, env: dict[str, str] | None = None, interval: float = 2):
        self.events = folder / f"events-{name}.jsonl"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "orchestrator.cli.main", "-v", "reconcile", "--watch", "--interval", str(interval),
             "--events", str(self.events)], cwd=folder, env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.out, self.err = Lines(self.proc.stdout), Lines(self.proc.stderr)  # type: ignore[arg-type]

    def actions(self) -> list[dict[str, object]]:
        """Its host actions that ran (not the store's bookkeeping, not the refused)."""
        if not self.events.exists():
            return []
        evs = [json.loads(line) for line in self.events.read_text().splitlines() if line.strip()]
        return [e for e in evs if e["event"] == "action" and e["ok"] and e["host"] != "store"]

    def state(self) -> str:
        text = Path(f"/proc/{self.proc.pid}/stat").read_text()
        return text[text.rindex(")") + 2]

    def stop(self) -> int:
        if self.proc.poll() is None:
            with_cont(self.proc.pid)
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode


def with_cont(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGCONT)


def laptops(base: Path, etcd: EtcdCluster, ttl: float = TTL) -> tuple[Path, Path]:
    """Two project folders of the same cluster (the fixture's orc.yaml), both on the etcd store."""
    own = [line for line in (base / "orc.yaml").read_text().splitlines() if not line.startswith("store:")]
    config = "\n".join(own) + f"\nstore: etcd://{etcd.endpoints}\nlease_ttl: {ttl:g}\n"
    folders = []
    for name in ("laptop-a", "laptop-b"):
        folder = base / name
        folder.mkdir()
        (folder / "orc.yaml").write_text(config)
        folders.append(folder)
    return folders[0], folders[1]


def apply_rc(folder: Path, replicas: int) -> None:
    (folder / "rc.yaml").write_text(RC.format(replicas=replicas))
    cp = orc("apply", "-f", "rc.yaml", cwd=folder)
    assert cp.returncode == 0, cp.stderr


def pods(lab) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(p for names in lab_pods(lab, "rc/web").values() for p in names)


def wait_pods(lab, n: int, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while len(pods(lab)) != n:
        assert time.monotonic() < deadline, f"{len(pods(lab))} pods, not {n}, after {timeout}s"
        time.sleep(0.2)


def test_a_stale_leader_is_refused_by_the_hosts_and_steps_down_while_the_other_leads(lab, project: Path,
                                                                                      etcd: EtcdCluster) -> None:
    # A lease long enough that B, started once A has stopped, still finds it held on a loaded machine
    # (B's own start took over 2 s in a full parallel run, and B then simply led: no standing by to see).
    a_dir, b_dir = laptops(project, etcd, ttl=6)
    apply_rc(a_dir, 3)
    # A leads, and stops itself (SIGSTOP) after its last lease check, right before its first batches.
    a = Controller(a_dir, "a", env={"ORC_TEST_STOP_BEFORE_BATCHES": "1"})
    b = None
    try:
        deadline = time.monotonic() + 60
        while a.state() != "T":
            assert a.proc.poll() is None and time.monotonic() < deadline, a.err.text()
            time.sleep(0.05)
        b = Controller(b_dir, "b", interval=1)
        b.err.wait_for("standing by: the reconcile lock is held by pid", timeout=30)
        took = b.err.wait_for("took over: this controller leads now", timeout=30)
        wait_pods(lab, 3, timeout=30)

        resumed = time.time()
        with_cont(a.proc.pid)
        a.err.wait_for("stepping down: this controller's lease is stale", timeout=30, after=resumed)
        a.err.wait_for("standing by: the reconcile lock is held by pid", timeout=30, after=resumed)
        assert a.proc.poll() is None  # a standby again, not gone
        refusals = [json.loads(x) for x in a.events.read_text().splitlines()]
        refused = [e for e in refusals if e.get("step") == "fence" and not e["ok"]]
        assert refused and all("refused this controller's batch" in str(e["error"]) for e in refused)
        assert a.actions() == []  # nothing of what the stale leader planned ran
        assert len(pods(lab)) == 3 and len(set(pods(lab))) == 3

        # A change from the other laptop wakes the leader within a second (once it is idle: every event
        # stream open and silent, a pass that asked no host anything).
        b_quiet = b.err.wait_for(quiet_pass(lab), timeout=60, after=took)
        # (the PUT lands inside the `orc scale` process: under load the watch can wake the leader before that
        # process has exited, so the line is looked for from the command's start)
        started = time.time()
        cp = orc("scale", "rc/web", "--replicas", "5", cwd=a_dir)
        assert cp.returncode == 0, cp.stderr
        scaled = time.time()
        woke = b.err.wait_for("woken by: store: PUT rc/web", timeout=10, after=max(b_quiet, started))
        assert woke - scaled < 1.0, f"the leader woke {woke - scaled:.2f}s after the scale"
        wait_pods(lab, 5, timeout=30)
        assert a.actions() == []
    finally:
        codes = [c.stop() for c in (a, b) if c is not None]
    assert codes == [0] * len(codes), (a.err.text()[-2000:], b.err.text()[-2000:] if b else "")


@pytest.fixture
def etcd3(tmp_path: Path) -> Iterator[EtcdCluster]:
    with etcd_cluster(tmp_path / "etcd3", size=3) as cluster:
        yield cluster


def test_two_watch_controllers_scaling_for_a_while_with_a_takeover_and_an_etcd_leader_killed(
        lab, project: Path, etcd3: EtcdCluster) -> None:
    soak = float(os.environ.get("ORC_E2E_SOAK_SECONDS", "60"))
    a_dir, b_dir = laptops(project, etcd3)
    apply_rc(a_dir, 2)
    a = Controller(a_dir, "a")
    a.out.wait_for("created pod/web-", timeout=60)
    b = Controller(b_dir, "b")
    b.err.wait_for("standing by", timeout=30)
    leaders: list[tuple[float, Controller]] = [(0.0, a)]
    counts: list[tuple[float, int, int]] = []  # (time, replicas asked, pods seen)
    try:
        start = time.monotonic()
        replicas, step, stopped_at, killed_etcd = 2, 0, None, False
        while time.monotonic() - start < soak:
            step += 1
            replicas = [2, 5, 1, 4, 3, 6][step % 6]
            folder = [a_dir, b_dir][step % 2]  # both laptops change the desired state
            cp = orc("scale", "rc/web", "--replicas", str(replicas), cwd=folder)
            assert cp.returncode == 0, cp.stderr
            if step == 3 and stopped_at is None:  # stop the leader past its lease
                stopped_at = time.time()
                os.kill(a.proc.pid, signal.SIGSTOP)
                took = b.err.wait_for("took over: this controller leads now", timeout=TTL + 20, after=stopped_at)
                assert took - stopped_at < TTL + 10, f"taken over {took - stopped_at:.1f}s after the stop"
                leaders.append((took, b))
                with_cont(a.proc.pid)
                a.err.wait_for("stepping down", timeout=30, after=took)
            if step == 6 and not killed_etcd:  # kill the etcd leader mid-run
                etcd3.kill(etcd3.leader())
                killed_etcd = True
            t_end = time.monotonic() + 4
            while time.monotonic() < t_end:
                counts.append((time.time(), replicas, len(pods(lab))))
                time.sleep(0.25)
        wait_pods(lab, replicas, timeout=40)
        # nothing applied was lost: the stored replicas are the last scale's
        got = json.loads(orc("get", "rc", "web", "-o", "json", cwd=b_dir).stdout)
        assert got["spec"]["replicas"] == replicas
    finally:
        codes = [a.stop(), b.stop()]
    assert codes == [0, 0], (a.err.text()[-2000:], b.err.text()[-2000:])
    # at no moment did both act: A's actions all came before B took over, B's all after
    a_times = [float(e["time"]) for e in a.actions()]  # type: ignore[arg-type]
    b_times = [float(e["time"]) for e in b.actions()]  # type: ignore[arg-type]
    assert a_times and b_times
    assert max(a_times) < leaders[1][0] <= min(b_times) + 1.0, (max(a_times), leaders[1][0], min(b_times))
    assert max(a_times) < min(b_times)
    # no duplicates: never more pods than the most replicas asked in the seconds before
    for t, _, seen in counts:
        recent = [r for (u, r, _) in counts if t - 15 <= u <= t]
        assert seen <= max(recent), (t, seen, recent)
    assert len(set(pods(lab))) == len(pods(lab)) == replicas
