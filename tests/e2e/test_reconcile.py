"""The reconcile engine on the real lab: RCs converge, heal and scale; reconcile is quiet, locked and
crash-safe."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import pytest

from orchestrator.errors import EXIT_LOCKED, EXIT_PENDING
from orchestrator.lab import cluster, daemons
from tests.e2e.conftest import lab_pods
from tests.e2e.helpers import orc, quiet_pass

pytestmark = pytest.mark.e2e

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
      terminationGracePeriodSeconds: 2  # sh (PID 1) traps SIGTERM and exits at once; httpd as PID 1 would ignore it
      containers:
      - name: httpd
        image: local/busybox:1
        command: [sh, -c, "hostname > /tmp/index.html && httpd -f -p 80 -h /tmp & trap 'exit 0' TERM; wait $!"]
        ports: [{{containerPort: 80}}]
        resources: {{requests: {{cpu: 100m, memory: 32Mi}}}}
"""


def apply_rc(project: Path, replicas: int) -> None:
    (project / "rc.yaml").write_text(RC.format(replicas=replicas))
    cp = orc("apply", "-f", "rc.yaml", cwd=project)
    assert cp.returncode == 0, cp.stderr


def reconcile(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return orc("reconcile", *args, cwd=project)


def count(lab) -> int:  # type: ignore[no-untyped-def]
    return sum(len(v) for v in lab_pods(lab, "rc/web").values())


def test_rc_converges_spread_over_hosts_and_second_pass_is_quiet(lab, project: Path) -> None:
    apply_rc(project, 3)
    first = reconcile(project)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("created pod/web-") == 3
    pods = lab_pods(lab, "rc/web")
    assert sorted(len(v) for v in pods.values()) == [1, 1, 1]  # 3 pods on 3 different hosts
    second = orc("-v", "reconcile", cwd=project)
    assert second.returncode == 0 and second.stdout == ""
    assert "0 actions" in second.stderr and ", ".join(f"{h.name}=1" for h in lab.spec.lab_hosts()) in second.stderr  # one round trip each
    assert lab_pods(lab, "rc/web") == pods


def test_killed_container_is_replaced(lab, project: Path) -> None:
    apply_rc(project, 3)
    assert reconcile(project).returncode == 0
    host = lab.host(2)
    victim = lab_pods(lab, "rc/web")[host.name][0]
    daemons.docker(host, "rm", "-f", f"orc_{victim}_httpd")  # a solo pod's one container: the pod is gone
    cp = reconcile(project)
    assert cp.returncode == 0, cp.stderr
    assert "created pod/web-" in cp.stdout and "deleted" not in cp.stdout  # nothing of it was left to delete
    assert count(lab) == 3
    assert victim not in sum(lab_pods(lab, "rc/web").values(), [])


@pytest.mark.also_on_etcd
def test_lost_host_is_replaced_and_its_stale_pods_removed_when_it_returns(lab, project: Path) -> None:
    apply_rc(project, 3)
    assert reconcile(project).returncode == 0
    host = lab.host(3)
    lost_pod = lab_pods(lab, "rc/web")[host.name]
    assert lost_pod
    cluster.stop_host(lab.spec, host)
    # Within the grace period: the host's pods still count, nothing is created twice.
    cp = reconcile(project)
    assert cp.returncode == 4 and "created" not in cp.stdout
    time.sleep(4.5)  # grace_period: 4
    cp = reconcile(project)
    assert cp.returncode == 4, cp.stderr
    assert "created pod/web-" in cp.stdout
    alive = {h: v for h, v in lab_pods(lab, "rc/web").items() if h != host.name}
    assert sum(len(v) for v in alive.values()) == 3
    # The host comes back with its old pod (dockerd restarts it): removed in the next pass.
    cluster.start_host(lab.spec, host)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not lab_pods(lab, "rc/web")[host.name]:
        time.sleep(0.5)
    assert lab_pods(lab, "rc/web")[host.name] == lost_pod
    cp = reconcile(project)
    assert cp.returncode == 0, cp.stderr
    assert f"deleted pod/{lost_pod[0]}" in cp.stdout and "created" not in cp.stdout
    assert count(lab) == 3
    assert reconcile(project).stdout == ""


@pytest.mark.also_on_etcd
def test_scale_up_down_and_delete_leave_nothing_behind(lab, project: Path) -> None:
    apply_rc(project, 3)
    assert reconcile(project).returncode == 0
    assert orc("scale", "rc/web", "--replicas", "6", cwd=project).returncode == 0
    assert reconcile(project).returncode == 0
    assert count(lab) == 6 and sorted(len(v) for v in lab_pods(lab, "rc/web").values()) == [2, 2, 2]
    assert orc("scale", "rc/web", "--replicas", "1", cwd=project).returncode == 0
    cp = reconcile(project)
    assert cp.returncode == 0 and cp.stdout.count("deleted pod/") == 5
    assert count(lab) == 1
    assert orc("delete", "rc/web", cwd=project).returncode == 0
    assert reconcile(project).returncode == 0
    for h in lab.spec.lab_hosts():
        assert daemons.docker(h, "ps", "-aq", "--filter", "label=orc.managed=true").stdout == b""
        assert b"orc_" not in daemons.docker(h, "volume", "ls", "-q").stdout


def test_two_reconciles_at_once_one_acts_the_other_exits_locked(lab, project: Path) -> None:
    apply_rc(project, 3)
    # Started together, whichever takes the lock first acts (creating 3 pods takes about a second, so
    # the other surely arrives while it holds the lock) and the other exits at once.
    cmd = [sys.executable, "-m", "orchestrator.cli.main", "reconcile"]
    procs = [subprocess.Popen(cmd, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=60) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, EXIT_LOCKED], outs
    locked = next(err for p, (_, err) in zip(procs, outs, strict=True) if p.returncode == EXIT_LOCKED)
    assert "lock" in locked.lower() and "held by" in locked.lower()
    assert count(lab) == 3
    # The same, deterministically: while this test holds the lock, a reconcile exits 3 without acting.
    from orchestrator.config import load_project
    from orchestrator.store import open_store

    store = open_store(load_project(cwd=project).store_url)
    try:
        with store.lock("reconcile", ttl=60):
            held = orc("reconcile", cwd=project)
            assert held.returncode == EXIT_LOCKED and held.stdout == ""
    finally:
        store.close()


def test_sigkill_mid_pass_never_leaves_duplicates_or_orphans(lab, project: Path) -> None:
    apply_rc(project, 3)
    rng = random.Random(7)
    cmd = [sys.executable, "-m", "orchestrator.cli.main", "reconcile"]
    for i in range(20):
        if i % 5 == 0:
            apply_rc(project, rng.choice([2, 3, 4]))
        p = subprocess.Popen(cmd, cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.2, 1.2))
        p.send_signal(signal.SIGKILL)
        p.wait()
    replicas = int((project / "rc.yaml").read_text().split("replicas: ")[1].split()[0])
    for _ in range(2):  # one pass to repair, and the next must have nothing left to do
        cp = reconcile(project)
        assert cp.returncode == 0, cp.stderr
    assert reconcile(project).stdout == ""
    pods = sum(lab_pods(lab, "rc/web").values(), [])
    assert len(pods) == replicas and len(set(pods)) == replicas
    for h in lab.spec.lab_hosts():  # every container of ours belongs to a complete pod
        names = daemons.docker(h, "ps", "-a", "--filter", "label=orc.managed=true",
                               "--format", "{{.Names}}").stdout.decode().split()
        assert sorted(names) == sorted(f"orc_{p}_httpd" for p in lab_pods(lab, "rc/web")[h.name])  # solo pods


def test_multi_container_pod_shares_one_network_namespace(lab, project: Path) -> None:
    (project / "pod.yaml").write_text("""\
apiVersion: v1
kind: Pod
metadata: {name: duo, labels: {app: duo}}
spec:
  containers:
  - name: server
    image: local/busybox:1
    command: [sh, -c, "echo from-server > /tmp/i.html && exec httpd -f -p 8080 -h /tmp"]
  - name: client
    image: local/busybox:1
    command: [sh, -c, "sleep 1; while true; do printf 'GET /i.html HTTP/1.0\\\\r\\\\n\\\\r\\\\n' | nc 127.0.0.1 8080 > /tmp/got; sleep 1; done"]
""")
    assert orc("apply", "-f", "pod.yaml", cwd=project).returncode == 0
    cp = reconcile(project)
    assert cp.returncode == 0, cp.stderr
    (host_name,) = [h for h, v in lab_pods(lab).items() if "duo" in v]
    host = lab.spec.host_named(host_name)
    deadline = time.monotonic() + 15
    got = b""
    while time.monotonic() < deadline and b"from-server" not in got:
        time.sleep(0.5)
        got = daemons.docker(host, "exec", "orc_duo_client", "cat", "/tmp/got", check=False).stdout
    assert b"from-server" in got


def test_a_dead_docker_behind_a_live_sshd_is_noticed_by_the_light_probe(lab, project: Path) -> None:
    apply_rc(project, 3)
    assert reconcile(project).returncode == 0
    assert reconcile(project).stdout == ""  # static facts now cached: passes probe containers only
    host = lab.host(1)
    daemons.stop_dockerd(host, remove_containers=False)
    try:
        cp = reconcile(project)
        assert cp.returncode == 4, cp.stdout + cp.stderr
        assert f"{host.name}: not ready: docker:" in cp.stderr and "created" not in cp.stdout  # within grace
    finally:
        daemons.start_dockerd(host)
        daemons.wait_dockerd(host)


def test_failed_creations_are_reported_and_backed_off(lab, project: Path) -> None:
    bad = RC.format(replicas=3).replace("image: local/busybox:1", "image: local/missing:1\n        imagePullPolicy: Never")
    (project / "bad.yaml").write_text(bad)
    assert orc("apply", "-f", "bad.yaml", cwd=project).returncode == 0
    first = reconcile(project)
    assert first.returncode == 1  # an action failed
    assert first.stderr.count("FAILED to create pod/web-") == 3 and "local/missing" in first.stderr
    second = orc("-v", "reconcile", cwd=project)  # within the back-off: no attempt, one line saying why
    assert second.returncode == EXIT_PENDING and "FAILED" not in second.stderr, second.stderr  # pending: not done
    assert "next try in" in second.stderr and "back-off 10s" in second.stderr
    third = reconcile(project)
    assert third.stdout == ""  # nothing done: nothing on stdout; stderr says what is still wrong, exit 5
    assert third.returncode == EXIT_PENDING and third.stderr.count("pending: rc/web") == 1, third.stderr
    assert sum(len(v) for v in lab_pods(lab).values()) == 0  # nothing half-made is left behind


class Lines:
    """A process's stream read line by line in a thread, so a test can wait for a line with a deadline."""

    def __init__(self, stream: IO[str]):
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float, start: int = 0) -> int:
        """Index of the first line from `start` on containing `text`; fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i in range(start, len(self.lines)):
                if text in self.lines[i]:
                    return i
            time.sleep(0.05)
        raise AssertionError(f"no line with {text!r} within {timeout}s:\n" + "\n".join(self.lines[-20:]))

    def join(self) -> str:
        self._thread.join(10)
        return "\n".join(self.lines)


def test_watch_replaces_a_killed_container_within_seconds(lab, project: Path) -> None:
    """The loop must be quiet first (every event stream open and silent: a timer pass asks no host
    anything); it was flaky when a fixed 4 s sleep stood for that: on a busy machine the start-up, the first
    full pass and the pass after the streams opened took longer, and the quiet pass came after the kill."""
    apply_rc(project, 3)
    assert reconcile(project).returncode == 0
    watch = subprocess.Popen([sys.executable, "-m", "orchestrator.cli.main", "-v", "reconcile", "--watch",
                              "--interval", "1"], cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    out, err = Lines(watch.stdout), Lines(watch.stderr)  # type: ignore[arg-type]
    try:
        quiet = err.wait_for(quiet_pass(lab), timeout=30)
        assert watch.poll() is None, err.join()
        host = lab.host(2)
        (victim,) = lab_pods(lab, "rc/web")[host.name]
        killed = time.monotonic()
        daemons.docker(host, "rm", "-f", f"orc_{victim}_httpd")
        while time.monotonic() - killed < 15 and (count(lab) != 3 or victim in sum(lab_pods(lab).values(), [])):
            time.sleep(0.2)
        elapsed = time.monotonic() - killed
        assert count(lab) == 3 and victim not in sum(lab_pods(lab).values(), [])
        assert elapsed < 10, f"replaced after {elapsed:.1f}s, not within seconds (interval is 60 s)"
        # The kill woke a pass at once (its docker events), not a timer.
        err.wait_for(f"woken by: {host.name}: die orc_{victim}_httpd", timeout=5, start=quiet + 1)
    finally:
        watch.send_signal(signal.SIGINT)
        watch.wait(timeout=15)
    stdout, stderr = out.join(), err.join()
    assert watch.returncode == 0, stderr
    assert "created pod/web-" in stdout and f"deleted pod/{victim}" not in stdout, stdout + stderr  # solo: gone


def test_a_secret_reaches_its_container_and_nothing_else(lab, project: Path) -> None:
    (project / "secrets").mkdir()
    (project / "secrets" / "db.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: 'pa$$ w0rd'}\n")
    (project / "pod.yaml").write_text("""\
apiVersion: v1
kind: Pod
metadata: {name: uses-secret}
spec:
  containers:
  - name: app
    image: local/busybox:1
    command: [sh, -c, 'printf "%s" "$DB_PASSWORD" > /tmp/pw; sleep 600']
    env: [{name: DB_PASSWORD, valueFrom: {secretKeyRef: {name: db, key: password}}}]
""")
    assert orc("apply", "-f", "pod.yaml", cwd=project).returncode == 0
    events = project / "events.jsonl"
    cp = orc("-vv", "reconcile", "--events", str(events), cwd=project)
    assert cp.returncode == 0, cp.stderr
    assert "pa$$ w0rd" not in cp.stdout + cp.stderr + events.read_text()
    (host_name,) = [h for h, v in lab_pods(lab).items() if "uses-secret" in v]
    host = lab.spec.host_named(host_name)
    deadline = time.monotonic() + 10
    got = b""
    while time.monotonic() < deadline and not got:
        time.sleep(0.3)
        got = daemons.docker(host, "exec", "orc_uses-secret_app", "cat", "/tmp/pw", check=False).stdout
    assert got == b"pa$$ w0rd"
    # A reference the source cannot satisfy is refused at apply, by name.
    (project / "pod.yaml").write_text((project / "pod.yaml").read_text().replace("key: password", "key: nope"))
    bad = orc("apply", "-f", "pod.yaml", cwd=project)
    assert bad.returncode == 1 and 'secret "db" key "nope"' in bad.stderr


def test_logs_and_exec_reach_the_pods_container_wherever_it_runs(lab, project: Path) -> None:
    (project / "pod.yaml").write_text("""\
apiVersion: v1
kind: Pod
metadata: {name: talker}
spec:
  containers:
  - name: main
    image: local/busybox:1
    command: [sh, -c, "echo line-one; echo line-two >&2; sleep 600"]
  - name: side
    image: local/busybox:1
    command: [sleep, "600"]
""")
    assert orc("apply", "-f", "pod.yaml", cwd=project).returncode == 0
    assert reconcile(project).returncode == 0
    time.sleep(1)
    logs = orc("logs", "talker", cwd=project)
    assert logs.returncode == 0 and sorted(logs.stdout.splitlines()) == ["line-one", "line-two"]  # both streams
    assert orc("exec", "pod/talker", "-c", "side", "--", "sh", "-c", "exit 7", cwd=project).returncode == 7
    cp = orc("exec", "talker", "--", "cat", cwd=project, input="through stdin\n")
    assert cp.returncode == 0 and cp.stdout == "through stdin\n"
    missing = orc("logs", "nope", cwd=project)
    assert missing.returncode == 1 and 'pod "nope"' in missing.stderr


def test_a_pod_whose_infra_container_crashed_is_replaced(lab, project: Path) -> None:
    # a sidecar: two containers share the pod's network namespace, so the pod has an infra container
    (project / "rc.yaml").write_text(RC.format(replicas=1) + "      - name: side\n        image: local/busybox:1\n"
                                     "        command: [sleep, \"3600\"]\n")
    assert orc("apply", "-f", "rc.yaml", cwd=project).returncode == 0
    assert reconcile(project).returncode == 0
    ((host_name, (pod,)),) = [(h, v) for h, v in lab_pods(lab, "rc/web").items() if v]
    host = lab.spec.host_named(host_name)
    pid = daemons.docker(host, "inspect", "-f", "{{.State.Pid}}", f"orc_{pod}").stdout.decode().strip()
    os.kill(int(pid), signal.SIGKILL)  # the infra's process dies; docker restarts it in a new netns
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        restarted = daemons.docker(host, "inspect", "-f", "{{.RestartCount}}", f"orc_{pod}", check=False)
        if restarted.stdout.strip() not in (b"", b"0"):
            break
        time.sleep(0.2)
    cp = reconcile(project)
    assert cp.returncode == 0, cp.stderr
    assert f"deleted pod/{pod} (its infra container restarted" in cp.stdout and "created pod/web-" in cp.stdout
    assert count(lab) == 1
