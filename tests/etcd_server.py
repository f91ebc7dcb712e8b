"""Real etcd for the tests: Debian's `etcd-server`, started here on 127.0.0.1 (free ports, a data folder of
its own), one member or a cluster of several, and always stopped (and its folder removed) afterwards.

Timings are shortened (heartbeat 50 ms, election 500 ms) so that a lease can be 1 s and a new leader is
elected within about a second of the old one's death."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ETCD = shutil.which("etcd") or "/usr/bin/etcd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Member:
    name: str
    client_port: int
    peer_port: int
    data_dir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    def status(self) -> dict[str, object] | None:
        try:
            req = urllib.request.Request(f"http://{self.endpoint}/v3/maintenance/status", data=b"{}", method="POST")
            with urllib.request.urlopen(req, timeout=1) as r:
                return json.loads(r.read())  # type: ignore[no-any-return]
        except OSError:
            return None

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.endpoint}/health", timeout=1) as r:
                return bool(json.loads(r.read()).get("health") == "true")
        except (OSError, ValueError):
            return False


@dataclass
class EtcdCluster:
    root: Path
    size: int = 1
    members: list[Member] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.members:
            self.members = [Member(f"m{i}", free_port(), free_port(), self.root / f"m{i}") for i in range(self.size)]

    @property
    def endpoints(self) -> str:
        return ",".join(m.endpoint for m in self.members)

    def url(self, prefix: str) -> str:
        return f"etcd://{self.endpoints}/{prefix.strip('/')}/"

    def _argv(self, m: Member, state: str) -> list[str]:
        peers = ",".join(f"{x.name}=http://127.0.0.1:{x.peer_port}" for x in self.members)
        return [ETCD, "--name", m.name, "--data-dir", str(m.data_dir),
                "--listen-client-urls", f"http://{m.endpoint}", "--advertise-client-urls", f"http://{m.endpoint}",
                "--listen-peer-urls", f"http://127.0.0.1:{m.peer_port}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{m.peer_port}",
                "--initial-cluster", peers, "--initial-cluster-state", state,
                "--initial-cluster-token", f"orc-test-{os.getpid()}-{self.members[0].peer_port}",
                "--heartbeat-interval", "50", "--election-timeout", "500", "--log-level", "warn"]

    def start_member(self, m: Member, state: str = "new") -> None:
        m.data_dir.mkdir(parents=True, exist_ok=True)
        log = (m.data_dir.parent / f"{m.name}.log").open("ab")
        m.proc = subprocess.Popen(self._argv(m, state), stdout=log, stderr=log, start_new_session=True)
        log.close()

    def start(self, timeout: float = 30.0) -> EtcdCluster:
        if not os.path.exists(ETCD):
            raise RuntimeError("etcd is not installed: run scripts/setup.sh (Debian's etcd-server)")
        for m in self.members:
            self.start_member(m)
        self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float = 30.0, members: list[Member] | None = None) -> None:
        deadline = time.monotonic() + timeout
        wanted = members or [m for m in self.members if m.proc is not None]
        while not all(m.healthy() for m in wanted):
            for m in wanted:
                if m.proc is not None and m.proc.poll() is not None:
                    raise RuntimeError(f"etcd member {m.name} exited ({m.proc.returncode}): "
                                       + (m.data_dir.parent / f"{m.name}.log").read_text()[-2000:])
            if time.monotonic() > deadline:
                raise RuntimeError(f"etcd {self.endpoints} not healthy within {timeout:.0f}s")
            time.sleep(0.05)

    def leader(self, timeout: float = 10.0) -> Member:
        deadline = time.monotonic() + timeout
        while True:
            for m in self.members:
                st = m.status() if m.proc is not None and m.proc.poll() is None else None
                if st and st.get("leader") == (st.get("header") or {}).get("member_id"):  # type: ignore[union-attr]
                    return m
            if time.monotonic() > deadline:
                raise RuntimeError("no etcd leader")
            time.sleep(0.05)

    def kill(self, m: Member, sig: int = signal.SIGKILL) -> None:
        if m.proc is not None and m.proc.poll() is None:
            m.proc.send_signal(sig)
            if sig in (signal.SIGKILL, signal.SIGTERM):
                m.proc.wait(10)
                m.proc = None

    def restart(self, m: Member) -> None:
        self.start_member(m, state="existing")
        self.wait_healthy(members=[m])

    def stop(self) -> None:
        for m in self.members:
            if m.proc is not None and m.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(m.proc.pid, signal.SIGCONT)
                m.proc.terminate()
        for m in self.members:
            if m.proc is not None:
                try:
                    m.proc.wait(10)
                except subprocess.TimeoutExpired:
                    m.proc.kill()
                    m.proc.wait(5)
                m.proc = None
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def etcd_cluster(root: Path, size: int = 1) -> Iterator[EtcdCluster]:
    cluster = EtcdCluster(root, size)
    try:
        yield cluster.start()
    finally:
        cluster.stop()
