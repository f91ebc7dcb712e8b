"""Services on the real lab: cluster IPs, node ports, discovery and HAProxy kept current and safe."""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from orchestrator.errors import EXIT_PARTIAL
from orchestrator.lab import cluster, daemons
from tests.e2e.conftest import lab_pods
from tests.e2e.helpers import orc

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def rc(name: str, replicas: int, labels: str, port: int = 80, answer: str = "$(hostname)") -> str:
    return f"""\
apiVersion: v1
kind: ReplicationController
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  template:
    metadata: {{labels: {{{labels}}}}}
    spec:
      containers:
      - name: httpd
        image: local/busybox:1
        # An app that exits on SIGTERM (as PID 1, busybox httpd would ignore it): deletes take no grace.
        command: [sh, -c, "echo {answer} > /tmp/index.html && httpd -f -p {port} -h /tmp & trap 'exit 0' TERM; wait"]
        ports: [{{name: http, containerPort: {port}}}]
        readinessProbe: {{httpGet: {{path: /, port: http}}, periodSeconds: 1}}
---
"""


def svc(name: str, selector: str, port: int = 80, node_port: int | None = None) -> str:
    kind = "NodePort" if node_port else "ClusterIP"
    np = f", nodePort: {node_port}" if node_port else ""
    return f"""\
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec:
  type: {kind}
  selector: {{{selector}}}
  ports: [{{port: {port}, targetPort: http{np}}}]
---
"""


def apply(project: Path, text: str) -> None:
    (project / "m.yaml").write_text(text)
    cp = orc("apply", "-f", "m.yaml", cwd=project)
    assert cp.returncode == 0, cp.stderr


def converge(project: Path) -> None:
    cp = orc("reconcile", "--wait", "90", cwd=project, timeout=150)
    assert cp.returncode == 0, cp.stdout + cp.stderr


def get(url: str) -> str:
    return urllib.request.urlopen(url, timeout=5).read().decode().strip()


def names_via(url: str, n: int = 9) -> set[str]:
    return {get(url) for _ in range(n)}


def in_pod(lab, pod: str, script: str) -> str:  # type: ignore[no-untyped-def]
    """Run a shell script in one of the pod's containers on whichever host runs it."""
    for h in lab.spec.lab_hosts():
        if pod in lab_pods(lab)[h.name]:
            names = daemons.docker(h, "ps", "--filter", f"label=orc.pod={pod}", "--filter", "label=orc.container",
                                   "--format", "{{.Names}}").stdout.decode().split()
            app = next(n for n in names if n != f"orc_{pod}")
            return daemons.docker(h, "exec", app, "sh", "-c", script, check=False).stdout.decode()
    raise AssertionError(f"pod {pod} runs nowhere")


def http_in_pod(lab, pod: str, host: str, port: str) -> str:  # type: ignore[no-untyped-def]
    out = in_pod(lab, pod, f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {host} {port}")
    return out.strip().splitlines()[-1] if out.strip() else ""


def pods_of(lab, owner: str) -> set[str]:  # type: ignore[no-untyped-def]
    return set(sum(lab_pods(lab, owner).values(), []))


@pytest.mark.also_on_etcd
def test_node_port_on_every_host_and_cluster_ip_from_every_pod(lab, project: Path) -> None:
    apply(project, rc("web", 3, "app: web") + svc("web", "app: web", node_port=30080))
    converge(project)
    pods = pods_of(lab, "rc/web")
    assert len(pods) == 3
    for h in lab.spec.lab_hosts():
        assert names_via(f"http://{h.address}:30080/") == pods
    for pod in pods:
        assert http_in_pod(lab, pod, "$WEB_SERVICE_HOST", "$WEB_SERVICE_PORT") in pods
        assert http_in_pod(lab, pod, "web", "80") in pods  # the name resolves to the cluster IP
    quiet = orc("-v", "reconcile", cwd=project)
    one_each = ", ".join(f"{h.name}=1" for h in lab.spec.lab_hosts())
    assert quiet.stdout == "" and one_each in quiet.stderr  # no upload, no reload


def test_two_services_on_one_port_reach_only_their_own_pods(lab, project: Path) -> None:
    apply(project, rc("a", 2, "app: a") + rc("b", 2, "app: b") + svc("svc-a", "app: a") + svc("svc-b", "app: b"))
    converge(project)
    a, b = pods_of(lab, "rc/a"), pods_of(lab, "rc/b")
    some = sorted(a)[0]
    assert {http_in_pod(lab, some, "svc-a", "80") for _ in range(6)} == a
    assert {http_in_pod(lab, some, "svc-b", "80") for _ in range(6)} == b


def test_two_tier_app_finds_its_backend_by_env_and_a_later_service_by_name(lab, project: Path) -> None:
    apply(project, rc("backend", 1, "app: backend", answer="backend-says-hi") + svc("backend", "app: backend"))
    converge(project)
    front = """\
apiVersion: v1
kind: Pod
metadata: {name: front}
spec:
  nodeName: %s
  containers:
  - name: app
    image: local/busybox:1
    command: [sh, -c, "while true; do printf 'GET / HTTP/1.0\\\\r\\\\n\\\\r\\\\n' | nc -w 2 $BACKEND_SERVICE_HOST $BACKEND_SERVICE_PORT > /tmp/got; sleep 1; done"]
"""
    (backend_host,) = [h for h, v in lab_pods(lab, "rc/backend").items() if v]
    other = next(h.name for h in lab.spec.lab_hosts() if h.name != backend_host)  # across hosts
    apply(project, front % other)
    converge(project)
    deadline = time.monotonic() + 15
    got = ""
    while time.monotonic() < deadline and "backend-says-hi" not in got:
        time.sleep(0.5)
        got = in_pod(lab, "front", "cat /tmp/got")
    assert "backend-says-hi" in got
    # A service created after the pod started: reachable from it by name (its hosts file is kept current).
    apply(project, rc("late", 1, "app: late", answer="late-says-hi") + svc("late", "app: late"))
    converge(project)
    assert http_in_pod(lab, "front", "late", "80") == "late-says-hi"


def test_scaling_keeps_the_proxy_on_exactly_the_current_pods(lab, project: Path) -> None:
    apply(project, rc("web", 3, "app: web") + svc("web", "app: web", node_port=30081))
    converge(project)
    url = f"http://{lab.host(1).address}:30081/"
    assert orc("scale", "rc/web", "--replicas", "5", cwd=project).returncode == 0
    converge(project)
    assert names_via(url, 15) == pods_of(lab, "rc/web") and len(pods_of(lab, "rc/web")) == 5
    assert orc("scale", "rc/web", "--replicas", "1", cwd=project).returncode == 0
    cp = orc("reconcile", cwd=project)  # ONE pass: deleted pods leave the config in the same round trip
    assert cp.returncode == 0, cp.stderr
    (left,) = pods_of(lab, "rc/web")
    assert names_via(url, 6) == {left}


def live_config(lab, i: int) -> bytes:  # type: ignore[no-untyped-def]
    """The HAProxy config HAProxy runs with on lab host i (the file orc installs; all lab hosts share one disk)."""
    return (lab.host(i).proxy_dir / "haproxy.cfg").read_bytes()


def config_hash(lab, i: int) -> str:  # type: ignore[no-untyped-def]
    return hashlib.sha256(live_config(lab, i)).hexdigest()


class Traffic:
    """Requests through a URL every 50 ms from a thread, until stopped: every answer and every failure, with
    when it happened, so a test can look at a window of time."""

    def __init__(self, url: str):
        self.url = url
        self.answers: list[tuple[float, str]] = []
        self.failures: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            at = time.monotonic()
            try:
                self.answers.append((at, get(self.url)))
            except Exception as e:  # noqa: BLE001 - every kind of failure counts
                self.failures.append((at, repr(e)))
            time.sleep(0.05)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def since(self, t: float) -> set[str]:
        return {a for at, a in self.answers if at >= t}


@pytest.mark.also_on_etcd
def test_a_lost_host_stops_receiving_traffic_and_no_request_sent_after_the_cut_fails(lab, project: Path) -> None:
    """A request in flight to the victim's pod at the instant of the power cut can be cut with it (HAProxy
    proxies TCP here: once the server took the request, nothing can replay it), as in any L4 proxy; at most
    one such, started before the cut was over. Every request sent after it must succeed: health checks
    and redispatch take the dead backend out, then the reconcile does."""
    apply(project, rc("web", 3, "app: web") + svc("web", "app: web", node_port=30082))
    converge(project)
    url = f"http://{lab.host(1).address}:30082/"
    victim = lab.host(3)
    (victim_pod,) = lab_pods(lab, "rc/web")[victim.name]
    alive = pods_of(lab, "rc/web") - {victim_pod}
    assert victim.address.encode() in live_config(lab, 1)  # the victim's pod is a backend before
    with Traffic(url) as traffic:
        deadline = time.monotonic() + 10
        while victim_pod not in traffic.since(0) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert victim_pod in traffic.since(0), "the victim's pod never answered: nothing to lose"
        cutting = time.monotonic()
        cluster.stop_host(lab.spec, victim)  # its dockerd and sshd die: its pod's port is gone at once
        stopped = time.monotonic()
        cp = orc("reconcile", cwd=project)  # the host is unreachable (exit 4): its backends leave the proxies
        assert cp.returncode == EXIT_PARTIAL, cp.stdout + cp.stderr
        reconciled = time.monotonic()
        time.sleep(2)  # requests keep flowing after the reconcile, too
    cut = [f for f in traffic.failures if cutting - 0.5 <= f[0] < stopped]
    assert len(cut) <= 1 and [f for f in traffic.failures if f not in cut] == [], (
        f"{len(traffic.failures)} failed requests (cut {cutting:.3f}-{stopped:.3f}): {traffic.failures[:3]}")
    during = [a for at, a in traffic.answers if at >= stopped]
    assert len(during) >= 20, f"only {len(during)} requests were sent during the failure window"
    assert traffic.since(stopped + 3) <= alive  # health checks (inter 1s, fall 2) took the victim out
    assert traffic.since(reconciled) == alive  # and after the reconcile, the live pods serve, all of them
    assert victim.address.encode() not in live_config(lab, 1)


def test_a_bad_template_or_rejected_config_changes_nothing_and_says_why(lab, project: Path) -> None:
    apply(project, rc("web", 2, "app: web") + svc("web", "app: web", node_port=30083))
    converge(project)
    url = f"http://{lab.host(1).address}:30083/"
    serving = names_via(url, 6)
    assert serving == pods_of(lab, "rc/web") and len(serving) == 2
    before = [config_hash(lab, i) for i in (1, 2, 3)]
    templates = project / "templates"
    templates.mkdir()
    good = (ROOT / "templates" / "haproxy.cfg.j2").read_text()
    (templates / "haproxy.cfg.j2").write_text(good + "\n{% if %}\n")  # a Jinja syntax error
    apply(project, rc("web", 3, "app: web") + svc("web", "app: web", node_port=30083))
    cp = orc("reconcile", cwd=project)
    assert cp.returncode == 1, cp.stdout + cp.stderr  # a failure, reported as one (the new pod is created)
    assert "haproxy.cfg.j2" in cp.stderr and "line" in cp.stderr
    assert [config_hash(lab, i) for i in (1, 2, 3)] == before  # every live config untouched
    assert names_via(url, 6) == serving  # still serving, from exactly the pods it served before
    (templates / "haproxy.cfg.j2").write_text(good + "\nthis-is-not-a-keyword\n")  # HAProxy rejects it
    cp = orc("reconcile", cwd=project)
    assert cp.returncode == 1, cp.stdout + cp.stderr
    assert "this-is-not-a-keyword" in cp.stderr or "unknown keyword" in cp.stderr
    assert [config_hash(lab, i) for i in (1, 2, 3)] == before  # `haproxy -c` refused it: nothing installed
    assert names_via(url, 6) == serving


def test_ambassador_routes_writes_to_the_primary_and_reads_to_replicas(lab, project: Path) -> None:
    (project / "templates").mkdir()
    shutil.copy(ROOT / "templates" / "ambassador.cfg.j2", project / "templates" / "ambassador.cfg.j2")
    shutil.copytree(ROOT / "examples" / "ambassador", project / "amb")
    assert orc("apply", "-f", "amb", cwd=project).returncode == 0
    converge(project)
    primary, replicas = pods_of(lab, "rc/db-primary"), pods_of(lab, "rc/db-replica")
    assert len(primary) == 1 and len(replicas) == 2
    h = lab.host(2).address
    writes = {get(f"http://{h}:30432/").split()[0] for _ in range(6)}
    reads = {get(f"http://{h}:30433/").split()[0] for _ in range(6)}
    assert writes == primary and reads == replicas
