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
import ssl
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


@dataclass(frozen=True)
class TLS:
    """Files of a test CA, etcd's server certificate (for 127.0.0.1) and a client certificate."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.ca))
        ctx.load_cert_chain(str(self.client_cert), str(self.client_key))
        return ctx


@dataclass
class Member:
    name: str
    client_port: int
    peer_port: int
    data_dir: Path
    proc: subprocess.Popen[bytes] | None = None
    tls: TLS | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    @property
    def client_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.endpoint}"

    def _open(self, path: str, data: bytes | None = None) -> bytes:
        req = urllib.request.Request(self.client_url + path, data=data, method="POST" if data else "GET")
        ctx = self.tls.context() if self.tls else None
        with urllib.request.urlopen(req, timeout=1, context=ctx) as r:
            return bytes(r.read())

    def status(self) -> dict[str, object] | None:
        try:
            return json.loads(self._open("/v3/maintenance/status", b"{}"))  # type: ignore[no-any-return]
        except OSError:
            return None

    def healthy(self) -> bool:
        try:
            return bool(json.loads(self._open("/health")).get("health") == "true")
        except (OSError, ValueError):
            return False


@dataclass
class EtcdCluster:
    root: Path
    size: int = 1
    tls: TLS | None = None
    members: list[Member] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.members:
            self.members = [Member(f"m{i}", free_port(), free_port(), self.root / f"m{i}", tls=self.tls)
                            for i in range(self.size)]

    @property
    def endpoints(self) -> str:
        return ",".join(m.endpoint for m in self.members)

    def url(self, prefix: str) -> str:
        return f"etcd://{self.endpoints}/{prefix.strip('/')}/"

    def _argv(self, m: Member, state: str) -> list[str]:
        peers = ",".join(f"{x.name}=http://127.0.0.1:{x.peer_port}" for x in self.members)
        tls = [] if self.tls is None else [
            "--cert-file", str(self.tls.server_cert), "--key-file", str(self.tls.server_key),
            "--trusted-ca-file", str(self.tls.ca), "--client-cert-auth"]
        return [ETCD, "--name", m.name, "--data-dir", str(m.data_dir), *tls,
                "--listen-client-urls", m.client_url, "--advertise-client-urls", m.client_url,
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
                    m.proc.wait(2)  # etcd waits for its clients' connections to close; the data goes anyway
                except subprocess.TimeoutExpired:
                    m.proc.kill()
                    m.proc.wait(5)
                m.proc = None
        shutil.rmtree(self.root, ignore_errors=True)


    def etcdctl(self, *args: str) -> str:
        """Run etcdctl (v3) against the cluster; its output."""
        tls = [] if self.tls is None else [f"--cacert={self.tls.ca}", f"--cert={self.tls.client_cert}",
                                           f"--key={self.tls.client_key}"]
        cp = subprocess.run(["etcdctl", f"--endpoints={','.join(m.client_url for m in self.members)}", *tls, *args],
                            capture_output=True, text=True, timeout=30, env={**os.environ, "ETCDCTL_API": "3"})
        if cp.returncode != 0:
            raise RuntimeError(f"etcdctl {' '.join(args)}: {cp.stderr.strip()}")
        return cp.stdout


def make_tls(folder: Path) -> TLS:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, made with `cryptography`."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def write(path: Path, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> tuple[Path, Path]:
        path.with_suffix(".key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        path.with_suffix(".pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return path.with_suffix(".pem"), path.with_suffix(".key")

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("orc test CA")).issuer_name(name("orc test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    ca_pem, _ = write(folder / "ca", ca_key, ca)

    def leaf(cn: str, usage: x509.ObjectIdentifier) -> tuple[Path, Path]:
        # etcd's JSON gateway dials etcd's own gRPC port with the server certificate as its client one, so
        # under --client-cert-auth the server certificate must allow client auth too
        usages = [usage, ExtendedKeyUsageOID.CLIENT_AUTH] if usage == ExtendedKeyUsageOID.SERVER_AUTH else [usage]
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(ca.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.ExtendedKeyUsage(usages), critical=False))
        if usage == ExtendedKeyUsageOID.SERVER_AUTH:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
        return write(folder / cn, key, builder.sign(ca_key, hashes.SHA256()))

    server = leaf("server", ExtendedKeyUsageOID.SERVER_AUTH)
    client = leaf("client", ExtendedKeyUsageOID.CLIENT_AUTH)
    return TLS(ca_pem, server[0], server[1], client[0], client[1])


@contextlib.contextmanager
def etcd_cluster(root: Path, size: int = 1, tls: TLS | None = None) -> Iterator[EtcdCluster]:
    cluster = EtcdCluster(root, size, tls)
    try:
        yield cluster.start()
    finally:
        cluster.stop()
