"""Requests dropped while a service's pods churn (issue 13: "100 scale steps under steady load: 0 failed
requests").

Steady HTTP load goes through a NodePort service on every lab host while its ReplicationController is
scaled up and down; each scale step is one `orc scale` and one `orc reconcile` (the real CLI, in a
subprocess, as a user or cron runs it), which creates or drains and deletes pods and re-renders and
hitlessly reloads HAProxy on every host. A request fails when it gets no complete `200` within the client
timeout (refused, reset, empty reply, timeout, other status): every failure counts.

The bench brings up its own lab (default name "churn" on 10.99.57.0/24: never the user's "lab" nor the
tests' "tlab"), writes a temp project, applies an RC of busybox httpd pods (a readiness probe, a SIGTERM
handler, a 5 s grace period) and a NodePort service, runs, deletes them, and takes the lab down (unless
`--keep-lab`).

    sudo .venv/bin/python bench/proxy_churn.py [--runs 3] [--steps 100] [--clients 4]

Two clients at once: closed-loop ones (each waits for its answer, paced to --rate in all) and an open-loop
one (--open-rate requests per second started on schedule whatever the answers take, latency counted from
when each was due). HAProxy's own retries, redispatches and connection errors are read from every host's
stats socket while the run goes (a retry that succeeded is a request that did not fail but reached a
dead backend first). Inside the timer of a step: the `orc scale` and `orc reconcile` processes. Printed:
per run the steps, requests sent, failed (split by scale-ups and scale-downs), HAProxy's counters, latency
p50/p99 and the median step time; then the median and spread (min-max) over the runs. Exit 1 when any
request failed or a step failed.
"""

from __future__ import annotations

import argparse
import http.client
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

NAME = "churn"

MANIFESTS = """\
apiVersion: v1
kind: ReplicationController
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: httpd
        image: local/busybox:1
        # httpd as PID 1 would ignore SIGTERM and wait out the grace period: a shell that exits on it.
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


def request(address: str, port: int, timeout: float) -> str:
    """'' when the request got a complete 200, else why not (one request on a fresh connection)."""
    conn = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        conn.request("GET", "/")
        r = conn.getresponse()
        body = r.read()
        return "" if r.status == 200 and body else f"status {r.status}, {len(body)} bytes"
    except (OSError, http.client.HTTPException) as e:
        return f"{address}: {type(e).__name__}: {str(e)[:60]}"
    finally:
        conn.close()


@dataclass
class Load:
    """Clients sending one request per fresh connection, round robin over the hosts' node ports."""

    targets: Sequence[tuple[str, int]]
    timeout: float
    rate: float  # requests per second per client (0: as fast as it can)
    latencies: list[float] = field(default_factory=list)
    failures: list[tuple[float, str]] = field(default_factory=list)  # (time, why)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def one(self, address: str, port: int) -> str:
        return request(address, port, self.timeout)

    def worker(self, first: int) -> None:
        i, due = first, time.monotonic()
        while not self.stop.is_set():
            if self.rate > 0:  # a steady rate, so the load leaves the lab's shared cores to the cluster
                due += 1 / self.rate
                self.stop.wait(max(0.0, due - time.monotonic()))
            address, port = self.targets[i % len(self.targets)]
            i += 1
            start = time.perf_counter()
            why = self.one(address, port)
            end = time.perf_counter()
            with self.lock:
                if why:
                    self.failures.append((end, why))
                else:
                    self.latencies.append(end - start)

    def sent(self) -> tuple[int, int]:
        with self.lock:
            return len(self.latencies) + len(self.failures), len(self.failures)


@dataclass
class OpenLoad:
    """An open-loop client: requests start at a fixed rate whatever the answers take (each on a thread of
    a pool), so a stalled backend cannot slow the load down and hide its failures. A request's latency
    counts from when it was due, not from when a thread was free to send it."""

    targets: Sequence[tuple[str, int]]
    timeout: float
    rate: float  # requests per second in all
    latencies: list[float] = field(default_factory=list)
    failures: list[tuple[float, str]] = field(default_factory=list)
    late: int = 0  # requests that started more than 100 ms after they were due (the pool was busy)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def one(self, due: float, address: str, port: int) -> None:
        if time.perf_counter() - due > 0.1:
            with self.lock:
                self.late += 1
        why = request(address, port, self.timeout)
        end = time.perf_counter()
        with self.lock:
            if why:
                self.failures.append((end, why))
            else:
                self.latencies.append(end - due)

    def dispatcher(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=64, thread_name_prefix="open-loop") as pool:
            i, start = 0, time.perf_counter()
            while not self.stop.is_set():
                due = start + i / self.rate
                wait = due - time.perf_counter()
                if wait > 0:
                    self.stop.wait(wait)
                    continue
                address, port = self.targets[i % len(self.targets)]
                pool.submit(self.one, due, address, port)
                i += 1

    def sent(self) -> tuple[int, int]:
        with self.lock:
            return len(self.latencies) + len(self.failures), len(self.failures)


class HAProxyStats:
    """Retries, redispatches and connection errors of every host's HAProxy, from its stats socket (`show
    info` for the worker's pid, `show stat` for the counters), polled every `interval` seconds. A reload
    starts a new worker whose counters begin at 0: the last values seen of each worker are added up, so
    what an old worker counted after its last poll is missed (the figures are a lower bound)."""

    FIELDS = ("wretr", "wredis", "econ", "eresp")

    def __init__(self, sockets: Sequence[Path], interval: float = 0.1):
        self.sockets, self.interval = list(sockets), interval
        self.done: Counter[str] = Counter()  # summed over workers no longer running
        self.last: dict[Path, tuple[str, Counter[str]]] = {}  # socket -> (worker pid, its counters)
        self.polls = self.errors = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    @staticmethod
    def ask(path: Path, command: str) -> str:
        import socket

        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(1.0)
            s.connect(str(path))
            s.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")

    def poll(self) -> None:
        for path in self.sockets:
            try:
                out = self.ask(path, "show info;show stat")
            except OSError:
                self.errors += 1  # no HAProxy yet, or it is reloading
                continue
            pid = next((ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Pid:")), "")
            header = next((ln for ln in out.splitlines() if ln.startswith("# pxname")), None)
            if not pid or header is None:
                self.errors += 1
                continue
            names = header[2:].split(",")
            counts: Counter[str] = Counter()
            for ln in out.splitlines():
                row = dict(zip(names, ln.split(","), strict=False))
                if row.get("svname") == "BACKEND":
                    for f in self.FIELDS:
                        counts[f] += int(row.get(f) or 0)
            before = self.last.get(path)
            if before is not None and before[0] != pid:
                self.done.update(before[1])
            self.last[path] = (pid, counts)
            self.polls += 1

    def loop(self) -> None:
        while not self.stop.wait(self.interval):
            self.poll()

    def totals(self) -> Counter[str]:
        out = Counter(self.done)
        for _, counts in self.last.values():
            out.update(counts)
        return out


@dataclass
class Run:
    steps: int = 0
    sent: int = 0
    failed_up: int = 0
    failed_down: int = 0
    failed_between: int = 0  # while no step ran (the hold after a step)
    p50: float = float("nan")
    p99: float = float("nan")
    seconds: float = 0.0  # the run's load, from its first request to its last
    step_seconds: list[float] = field(default_factory=list)
    step_errors: list[str] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)
    open_sent: int = 0  # the open-loop client's requests
    open_failed: int = 0
    open_late: int = 0
    open_p50: float = float("nan")
    open_p99: float = float("nan")
    haproxy: Counter[str] = field(default_factory=Counter)  # retries, redispatches, errors (lower bound)

    @property
    def failed(self) -> int:
        return self.failed_up + self.failed_down + self.failed_between


def orc(project: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orchestrator.cli.main", *args], cwd=project,
                          capture_output=True, text=True, timeout=timeout)


def sizes(steps: int, low: int, high: int, seed: int) -> list[int]:
    """`steps` replica counts in [low, high], each different from the one before (half up, half down on
    average), seeded so that every run and every commit scales through the same sequence."""
    rng, out, now = random.Random(seed), [], low
    for _ in range(steps):
        now = rng.choice([n for n in range(low, high + 1) if n != now])
        out.append(now)
    return out


def percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def one_run(project: Path, targets: Sequence[tuple[str, int]], plan: list[int], start: int, a: argparse.Namespace,
            sockets: Sequence[Path], log) -> Run:  # type: ignore[no-untyped-def]
    run, load = Run(), Load(targets, a.timeout, a.rate / max(a.clients, 1))
    open_load = OpenLoad(targets, a.timeout, a.open_rate)
    stats = HAProxyStats(sockets)
    stats.poll()
    windows: list[tuple[float, float, str]] = []  # (start, end, "up"|"down") of each step
    threads = [threading.Thread(target=load.worker, args=(i,), daemon=True) for i in range(a.clients)]
    if a.open_rate > 0:
        threads.append(threading.Thread(target=open_load.dispatcher, daemon=True))
    for t in threads:
        t.start()
    stats.thread.start()
    began = time.perf_counter()
    time.sleep(a.hold)
    now = start
    try:
        for i, n in enumerate(plan, 1):
            t0 = time.perf_counter()
            scaled = orc(project, "scale", f"rc/{NAME}", "--replicas", str(n))
            passed = orc(project, "reconcile")
            t1 = time.perf_counter()
            windows.append((t0, t1, "up" if n > now else "down"))
            run.step_seconds.append(t1 - t0)
            for what, cp in (("scale", scaled), ("reconcile", passed)):
                if cp.returncode != 0:
                    run.step_errors.append(f"step {i} ({now}->{n}) {what}: exit {cp.returncode}: "
                                           f"{cp.stderr.strip()[-300:]}")
            now = n
            run.steps = i
            if i % 10 == 0:
                sent, failed = load.sent()
                open_sent, open_failed = open_load.sent()
                h = stats.totals()
                log(f"  step {i}/{len(plan)}: closed loop {sent} sent, {failed} failed; open loop {open_sent} "
                    f"sent, {open_failed} failed; haproxy retries {h['wretr']}, redispatches {h['wredis']}; "
                    f"last step {run.step_seconds[-1]:.2f} s")
            time.sleep(a.hold)
    finally:
        load.stop.set()
        open_load.stop.set()
        for t in threads:
            t.join(timeout=a.timeout + 1)
        time.sleep(a.timeout)  # the open loop's last requests
        stats.stop.set()
        stats.thread.join(timeout=5)
        stats.poll()
    run.seconds = time.perf_counter() - began
    run.sent, _ = load.sent()
    ok = sorted(load.latencies)
    run.p50, run.p99 = percentile(ok, 50), percentile(ok, 99)
    run.open_sent, run.open_failed = open_load.sent()
    run.open_late = open_load.late
    ok = sorted(open_load.latencies)
    run.open_p50, run.open_p99 = percentile(ok, 50), percentile(ok, 99)
    run.haproxy = stats.totals()
    if stats.polls == 0:
        log(f"  haproxy stats: no answer from {', '.join(map(str, sockets))}")
    for when, why in load.failures + open_load.failures:
        # A request that failed ended within a step, or (its timeout) soon after one began.
        kind = next((k for s, e, k in windows if s <= when <= e + a.timeout), "between")
        if kind == "up":
            run.failed_up += 1
        elif kind == "down":
            run.failed_down += 1
        else:
            run.failed_between += 1
        run.reasons[why] += 1
    return run


def spread(values: Sequence[float], fmt: str) -> str:
    return f"{format(statistics.median(values), fmt)} ({format(min(values), fmt)}-{format(max(values), fmt)})"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3, help="runs of --steps scale steps each")
    p.add_argument("--steps", type=int, default=100, help="scale steps per run")
    p.add_argument("--min-replicas", type=int, default=1)
    p.add_argument("--max-replicas", type=int, default=5)
    p.add_argument("--hold", type=float, default=0.5, help="seconds of load after each step")
    p.add_argument("--clients", type=int, default=4, help="closed-loop clients (each waits for its answer)")
    p.add_argument("--rate", type=float, default=200,
                   help="the closed-loop clients' requests per second in all (0: unthrottled)")
    p.add_argument("--open-rate", type=float, default=100,
                   help="requests per second of the open-loop client, sent whatever the answers take (0: none)")
    p.add_argument("--timeout", type=float, default=5.0, help="per-request timeout (seconds)")
    p.add_argument("--node-port", type=int, default=30190)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--lab", default=NAME, help="the lab's name (its own: never 'lab' or 'tlab')")
    p.add_argument("--subnet", type=int, default=57, help="X of the lab's 10.99.X.0/24")
    p.add_argument("--hosts", type=int, default=3)
    p.add_argument("--keep-lab", action="store_true", help="leave the lab up afterwards")
    a = p.parse_args()
    if a.lab in ("lab", "tlab"):
        p.error(f"--lab {a.lab}: use a lab of the bench's own")

    from orchestrator.lab import cluster
    from orchestrator.lab.spec import LabSpec

    # Stopped by Ctrl-C or a kill (also when started in the background, where SIGINT is ignored): the
    # bench's objects are deleted and its lab taken down all the same.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    spec = LabSpec(hosts=a.hosts, name=a.lab, subnet=a.subnet)
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="orc-churn-") as tmp:
        project = Path(tmp)
        inventory = project / "inventory.yaml"
        try:
            log(f"lab {spec.name} up ({a.hosts} hosts, 10.99.{a.subnet}.0/24)")
            cluster.up(spec, inventory)
            (project / "orc.yaml").write_text(
                f"cluster: {a.lab}-bench\ninventory: {inventory}\ninfra_image: local/busybox:1\n"
                'infra_command: [sleep, "2147483647"]\n')
            start = a.min_replicas
            (project / "m.yaml").write_text(MANIFESTS.format(name=NAME, replicas=start, node_port=a.node_port))
            for args in (("apply", "-f", "m.yaml"), ("reconcile", "--wait", "60")):
                cp = orc(project, *args)
                if cp.returncode != 0:
                    log(f"orc {' '.join(args)}: exit {cp.returncode}: {cp.stderr.strip()}")
                    return 1
            targets = [(h.address, a.node_port) for h in spec.lab_hosts()]
            sockets = [h.proxy_dir / "admin.sock" for h in spec.lab_hosts()]  # one filesystem for all hosts
            plan = sizes(a.steps, a.min_replicas, a.max_replicas, a.seed)
            for r in range(a.runs):
                log(f"run {r + 1}/{a.runs}: {a.steps} steps through {a.min_replicas}..{a.max_replicas} replicas")
                runs.append(one_run(project, targets, plan, start, a, sockets, log))
                start = plan[-1]
        finally:
            orc(project, "delete", f"rc/{NAME}", f"svc/{NAME}")
            orc(project, "reconcile")
            if not a.keep_lab:
                log(f"lab {spec.name} down")
                cluster.down(spec)

    print(f"proxy churn: {a.hosts} hosts, {a.clients} closed-loop clients at {a.rate:g} req/s in all and an "
          f"open-loop client at {a.open_rate:g} req/s, over every host's node port; {a.steps} scale steps per run "
          f"({a.min_replicas}..{a.max_replicas} replicas, seed {a.seed}), {a.hold} s hold")
    print(f"{'run':>3} {'steps':>5} {'closed':>7} {'open':>6} {'failed':>6} {'up':>3} {'down':>4} {'other':>5} "
          f"{'retries':>7} {'redisp':>6} {'conn err':>8} {'p50 ms':>7} {'p99 ms':>7} {'open p99':>8} {'late':>4} "
          f"{'step s':>6}")
    for i, r in enumerate(runs, 1):
        h = r.haproxy
        print(f"{i:>3} {r.steps:>5} {r.sent:>7} {r.open_sent:>6} {r.failed:>6} {r.failed_up:>3} "
              f"{r.failed_down:>4} {r.failed_between:>5} {h['wretr']:>7} {h['wredis']:>6} {h['econ']:>8} "
              f"{r.p50 * 1000:>7.1f} {r.p99 * 1000:>7.1f} {r.open_p99 * 1000:>8.1f} {r.open_late:>4} "
              f"{statistics.median(r.step_seconds):>6.2f}")
    if runs:
        print(f"median (min-max) over {len(runs)} runs: requests {spread([r.sent + r.open_sent for r in runs], '.0f')}, "
              f"failed {spread([r.failed for r in runs], '.0f')}, "
              f"retries {spread([r.haproxy['wretr'] for r in runs], '.0f')}, "
              f"redispatches {spread([r.haproxy['wredis'] for r in runs], '.0f')}, "
              f"p50 {spread([r.p50 * 1000 for r in runs], '.1f')} ms, "
              f"p99 {spread([r.p99 * 1000 for r in runs], '.1f')} ms, "
              f"step {spread([statistics.median(r.step_seconds) for r in runs], '.2f')} s")
        print(f"total: {sum(r.steps for r in runs)} steps, {sum(r.sent + r.open_sent for r in runs)} requests "
              f"({sum(r.open_sent for r in runs)} open-loop), {sum(r.failed for r in runs)} failed; HAProxy "
              f"retries {sum(r.haproxy['wretr'] for r in runs)}, redispatches "
              f"{sum(r.haproxy['wredis'] for r in runs)}, connection errors {sum(r.haproxy['econ'] for r in runs)} "
              "(lower bounds: a worker's counts after its last poll are lost at its reload)")
    reasons = sum((r.reasons for r in runs), Counter())
    for why, count in reasons.most_common(8):
        print(f"  {count} x {why}")
    errors = [e for r in runs for e in r.step_errors]
    for e in errors[:10]:
        print(f"  step failed: {e}")
    return 1 if reasons or errors or not runs else 0


if __name__ == "__main__":
    sys.exit(main())
