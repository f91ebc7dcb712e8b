"""Heal time after a power cut, under load (issue 12: "heal in seconds, measured").

A long-running `orc reconcile --watch` (the real CLI, in a subprocess, as a user runs it) keeps a
ReplicationController of busybox httpd pods (a readiness probe) behind a NodePort service, spread over the
lab's hosts. Steady HTTP load goes through the node ports of the hosts that stay up. Each run cuts one host
that runs a pod of the RC off the network at once (its link taken down: no FIN, no RST, its packets
vanish, as when the power goes), and the clock runs until every surviving host's HAProxy has the RC's full
replica count of servers UP (passing its health check: ready pods, in every proxy) on the hosts left. Then
the host comes back, the watch removes the pods it had (they were replaced), and the next run cuts another.

Printed: per run the host cut, the heal time, requests sent and failed (a request fails when it gets no
complete `200` within the client timeout); then the median and spread (min-max) over the runs, beside the
default failover times of Docker Swarm (~15 s), Nomad (~20 s) and Kubernetes (~5 m 40 s: 40 s node monitor
grace + 5 min pod eviction). Inside the timer: detection (the watch's own pace), the grace period, the
replacement pod's start and readiness, the proxies' update and HAProxy's health checks. Outside it: the
load's warm-up and the host's return.

The bench brings up its own lab (default "fail" on 10.99.58.0/24: never the user's "lab" nor the tests'
"tlab"), writes a temp project, runs, deletes its objects and takes the lab down (unless `--keep-lab`).

    sudo .venv/bin/python bench/failover.py [--runs 3] [--hosts 4] [--replicas 3]

Exit 1 when a run did not heal within --deadline, or (with --strict) when any request failed.
"""

from __future__ import annotations

import argparse
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from proxy_churn import Load, orc, percentile, spread  # the same client and helpers as the churn bench

NAME = "fo"

MANIFESTS = """\
apiVersion: v1
kind: ReplicationController
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: httpd
        image: local/busybox:1
        command: [sh, -c, "hostname > /tmp/index.html; trap 'exit 0' TERM; httpd -f -p 80 -h /tmp & wait"]
        ports: [{{name: http, containerPort: 80}}]
        readinessProbe: {{httpGet: {{path: /, port: http}}, periodSeconds: 1}}
---
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec:
  type: NodePort
  selector: {{app: {name}}}
  ports: [{{port: 80, targetPort: http, nodePort: {node_port}}}]
"""

PEERS = (("Docker Swarm", "~15 s"), ("Nomad", "~20 s"), ("Kubernetes", "~340 s (5 m 40 s)"))


def haproxy_servers(sock: Path, backend: str) -> list[tuple[str, str]]:
    """(address, status) of every server of `backend`, from the HAProxy's stats socket; [] when it does not
    answer (no HAProxy, or the socket is not there yet)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect(str(sock))
            s.sendall(b"show stat\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
    except OSError:
        return []
    lines = data.decode(errors="replace").splitlines()
    if not lines or not lines[0].startswith("# "):
        return []
    head = lines[0][2:].split(",")
    col = {k: i for i, k in enumerate(head)}
    out = []
    for line in lines[1:]:
        f = line.split(",")
        if len(f) < len(head) or f[col["pxname"]] != backend or f[col["svname"]] in ("BACKEND", "FRONTEND"):
            continue
        out.append((f[col["addr"]].rsplit(":", 1)[0], f[col["status"]]))
    return out


def ready_on(hosts, backend: str, away: str | None) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """host -> servers UP in its proxy's `backend` that are not on the host `away`."""
    return {h.name: sum(1 for addr, st in haproxy_servers(h.proxy_dir / "admin.sock", backend)
                        if st.startswith("UP") and addr != away) for h in hosts}


def wait_until(cond, deadline: float, step: float = 0.1) -> float | None:  # type: ignore[no-untyped-def]
    """Seconds until `cond()` held (polled every `step`), or None past `deadline` seconds."""
    t0 = time.perf_counter()
    while not cond():
        if time.perf_counter() - t0 > deadline:
            return None
        time.sleep(step)
    return time.perf_counter() - t0


def link(h, up: bool) -> None:  # type: ignore[no-untyped-def]
    """The host's cable: its veth's end on the lab bridge, set down (cut) or up (back)."""
    subprocess.run(["ip", "link", "set", h.veth, "up" if up else "down"], check=True)


def pods_on(h, owner: str) -> int:  # type: ignore[no-untyped-def]
    from orchestrator.lab import daemons

    cp = daemons.docker(h, "ps", "-q", "--filter", f"label=orc.owner={owner}", "--filter", "label=orc.containers",
                        check=False)
    return len(cp.stdout.split()) if cp.returncode == 0 else 0


@dataclass
class Run:
    host: str
    heal: float | None  # seconds from the cut to every surviving proxy at full strength; None: not healed
    sent: int
    failed: int
    p99: float
    reasons: Counter[str]


def one_run(spec, victim, a: argparse.Namespace, log) -> Run:  # type: ignore[no-untyped-def]
    backend = f"be-{NAME}-80"
    others = [h for h in spec.lab_hosts() if h.name != victim.name]
    load = Load([(h.address, a.node_port) for h in others], a.timeout, a.rate / a.clients)
    threads = [threading.Thread(target=load.worker, args=(i,), daemon=True) for i in range(a.clients)]
    for t in threads:
        t.start()
    healed: float | None = None
    cut = time.perf_counter()
    try:
        time.sleep(a.hold)
        link(victim, up=False)
        cut = time.perf_counter()
        log(f"  {victim.name} cut at {time.strftime('%H:%M:%S')}")
        shown = [time.perf_counter()]

        def full() -> bool:
            counts = ready_on(others, backend, victim.address)
            if time.perf_counter() - shown[0] >= 5:  # progress, and what holds a slow heal up
                shown[0] = time.perf_counter()
                log(f"    servers up on the other hosts: {counts}")
            return all(n >= a.replicas for n in counts.values())

        healed = wait_until(full, a.deadline)
        log(f"  healed in {healed:.1f} s" if healed is not None else f"  not healed within {a.deadline:g} s")
        time.sleep(a.hold)  # the load goes on a little past the heal: what settles after it counts too
    finally:
        load.stop.set()
        for t in threads:
            t.join(timeout=a.timeout + 1)
        link(victim, up=True)
        subprocess.run(["ip", "netns", "exec", victim.netns, "ip", "route", "replace", "default", "via",
                        spec.gateway], check=False, capture_output=True)
    sent, failed = load.sent()
    if load.failures:  # where and when (seconds from the cut) requests failed
        first, last = min(t for t, _ in load.failures) - cut, max(t for t, _ in load.failures) - cut
        log(f"  {failed} failed, from {first:+.1f} s to {last:+.1f} s after the cut")
    return Run(victim.name, healed, sent, failed, percentile(sorted(load.latencies), 99),
               Counter(why for _, why in load.failures))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3, help="host cuts, one after another (each host in turn)")
    p.add_argument("--hosts", type=int, default=4)
    p.add_argument("--replicas", type=int, default=3)
    p.add_argument("--grace", type=float, default=None,
                   help="orc.yaml watch_grace_period for the run (default: orc's own, 5 s)")
    p.add_argument("--connect-timeout", type=float, default=None,
                   help="orc.yaml ssh.connect_timeout for the run (default: orc's own, 5 s)")
    p.add_argument("--interval", type=float, default=None, help="--watch --interval (default: orc's own)")
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--rate", type=float, default=100, help="requests per second in all")
    p.add_argument("--timeout", type=float, default=5.0, help="per-request timeout (seconds), as the churn bench")
    p.add_argument("--hold", type=float, default=2.0, help="seconds of load before the cut and after the heal")
    p.add_argument("--deadline", type=float, default=180.0, help="seconds a run may take to heal")
    p.add_argument("--node-port", type=int, default=30191)
    p.add_argument("--lab", default="fail", help="the lab's name (its own: never 'lab' or 'tlab')")
    p.add_argument("--subnet", type=int, default=58, help="X of the lab's 10.99.X.0/24")
    p.add_argument("--keep-lab", action="store_true", help="leave the lab up afterwards")
    p.add_argument("--strict", action="store_true", help="exit 1 when any request failed")
    p.add_argument("--show-watch", action="store_true", help="print the watch's log (orc -v) at the end")
    a = p.parse_args()
    if a.lab in ("lab", "tlab"):
        p.error(f"--lab {a.lab}: use a lab of the bench's own")
    if a.replicas >= a.hosts * 2:
        p.error("--replicas: keep fewer than twice the hosts, so that a cut host leaves room for its pods")

    from orchestrator.lab import cluster
    from orchestrator.lab.spec import LabSpec

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    spec = LabSpec(hosts=a.hosts, name=a.lab, subnet=a.subnet)
    runs: list[Run] = []
    owner = f"rc/{NAME}"
    with tempfile.TemporaryDirectory(prefix="orc-failover-") as tmp:
        project = Path(tmp)
        inventory = project / "inventory.yaml"
        watch: subprocess.Popen[bytes] | None = None
        watch_log = (project / "watch.log").open("wb")
        try:
            log(f"lab {spec.name} up ({a.hosts} hosts, 10.99.{a.subnet}.0/24)")
            cluster.up(spec, inventory)
            grace = f"watch_grace_period: {a.grace:g}\n" if a.grace is not None else ""
            if a.connect_timeout is not None:
                grace += f"ssh:\n  connect_timeout: {a.connect_timeout:g}\n"
            (project / "orc.yaml").write_text(
                f"cluster: {a.lab}-bench\ninventory: {inventory}\ninfra_image: local/busybox:1\n"
                f'infra_command: [sleep, "2147483647"]\n{grace}')
            (project / "m.yaml").write_text(MANIFESTS.format(name=NAME, replicas=a.replicas, node_port=a.node_port))
            for args in (("apply", "-f", "m.yaml"), ("reconcile", "--wait", "60")):
                cp = orc(project, *args)
                if cp.returncode != 0:
                    log(f"orc {' '.join(args)}: exit {cp.returncode}: {cp.stderr.strip()}")
                    return 1
            argv = [sys.executable, "-m", "orchestrator.cli.main", *(["-v"] if a.show_watch else []), "reconcile",
                    "--watch"]
            if a.interval is not None:
                argv += ["--interval", str(a.interval)]
            watch = subprocess.Popen(argv, cwd=project, stdout=watch_log, stderr=subprocess.STDOUT)
            backend = f"be-{NAME}-80"
            hosts = spec.lab_hosts()
            for r in range(a.runs):
                # settled: every proxy at full strength, and the pod the last cut host had is gone from it
                if wait_until(lambda: all(n >= a.replicas for n in ready_on(hosts, backend, None).values())
                              and sum(pods_on(h, owner) for h in hosts) == a.replicas, 120) is None:
                    log(f"run {r + 1}: the cluster did not settle (proxies: {ready_on(hosts, backend, None)})")
                    break
                candidates = [h for h in hosts if pods_on(h, owner) and (not runs or h.name != runs[-1].host)]
                victim = candidates[r % len(candidates)]
                log(f"run {r + 1}/{a.runs}: cut {victim.name} ({pods_on(victim, owner)} pod(s) of {owner})")
                runs.append(one_run(spec, victim, a, log))
                if watch.poll() is not None:
                    log(f"orc reconcile --watch exited with {watch.returncode}")
                    break
        finally:
            if watch is not None and watch.poll() is None:
                watch.send_signal(signal.SIGTERM)
                try:
                    watch.wait(30)
                except subprocess.TimeoutExpired:
                    watch.kill()
            watch_log.close()
            text = (project / "watch.log").read_text(errors="replace")
            if a.show_watch:
                log("the watch's log:\n" + text)
            elif runs and any(r.heal is None for r in runs):
                log("the watch's log (its end):\n" + text[-4000:])
            orc(project, "delete", owner, f"svc/{NAME}")
            orc(project, "reconcile")
            if not a.keep_lab:
                log(f"lab {spec.name} down")
                cluster.down(spec)

    settings = ", ".join([f"watch_grace_period {a.grace:g} s" if a.grace is not None else "watch_grace_period 5 s",
                          f"ssh.connect_timeout {a.connect_timeout or 5:g} s"])
    print(f"failover: {a.hosts} hosts, rc/{NAME} of {a.replicas} replicas behind a NodePort service, "
          f"`orc reconcile --watch` ({settings}), {a.rate:g} req/s over the surviving hosts' node ports")
    print(f"{'run':>3} {'host cut':>10} {'heal s':>7} {'requests':>9} {'failed':>6} {'p99 ms':>7}")
    for i, r in enumerate(runs, 1):
        heal = f"{r.heal:.1f}" if r.heal is not None else "-"
        print(f"{i:>3} {r.host:>10} {heal:>7} {r.sent:>9} {r.failed:>6} {r.p99 * 1000:>7.1f}")
    healed = [r.heal for r in runs if r.heal is not None]
    if healed:
        print(f"heal: median {spread(healed, '.1f')} s over {len(healed)} of {len(runs)} runs; failed requests "
              f"{spread([r.failed for r in runs], '.0f')} per run, {sum(r.failed for r in runs)} of "
              f"{sum(r.sent for r in runs)} in all")
    print("defaults elsewhere: " + ", ".join(f"{n} {t}" for n, t in PEERS))
    reasons = sum((r.reasons for r in runs), Counter())
    for why, count in reasons.most_common(6):
        print(f"  {count} x {why}")
    bad = not runs or len(healed) < len(runs) or (a.strict and bool(reasons))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
