"""A real OpenSSH server on 127.0.0.1 for the integration tests (session scoped).

It runs as root with its own sshd_config, host keys (ed25519 + ecdsa), authorized_keys and a fresh client
key, all in a temporary folder. sshd runs under `unshare --mount` with an empty folder bind-mounted over
/root, so root's login shell skips ~/.bashrc (which runs `pyenv init`, ~100 ms per exec here). Only the
process started here is stopped at teardown.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestrator.config import SSHSettings
from orchestrator.inventory.host import Host
from orchestrator.transport.ssh import SSHTransport

SSHD = "/usr/sbin/sshd"
SSHD_WAIT = 180.0  # openssh-server may still be being installed when the tests start


@dataclass
class SSHServer:
    port: int
    root: Path
    client_key: Path
    host_key_lines: dict[str, str]  # key type -> "type base64" of the server's host keys
    pid: int

    address: str = "127.0.0.1"

    def host(self, name: str = "node1", **kw: object) -> Host:
        fields: dict[str, object] = {"address": self.address, "port": self.port, "user": "root"}
        fields["key_file"] = str(self.client_key)
        fields.update(kw)
        return Host(name=name, **fields)  # type: ignore[arg-type]

    def known_hosts_line(self, key_type: str = "ssh-ed25519") -> str:
        return f"[{self.address}]:{self.port} {self.host_key_lines[key_type]}\n"

    def transport(self, user_known_hosts: Path, **settings: object) -> SSHTransport:
        """A transport whose user known_hosts is `user_known_hosts` (never the real ~/.ssh/known_hosts)."""
        opts: dict[str, object] = {"connect_timeout": 5.0, **settings}
        return SSHTransport(
            SSHSettings.model_validate(opts),
            known_hosts_files=[str(user_known_hosts)],
            ssh_config_path=str(self.root / "empty_ssh_config"),
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: Path, kind: str) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(path)], check=True)


def _wait_for_banner(port: int, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"sshd exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(4).startswith(b"SSH-"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"sshd did not answer on 127.0.0.1:{port} within {timeout}s")


def _need_sshd() -> None:
    if os.geteuid() != 0:
        pytest.skip("integration sshd fixture needs root (it runs its own /usr/sbin/sshd)")
    deadline = time.monotonic() + SSHD_WAIT
    while not os.path.exists(SSHD):
        if time.monotonic() > deadline:
            pytest.skip(f"{SSHD} not found: install openssh-server to run the SSH integration tests")
        time.sleep(2)
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen not found: install openssh-client")


def start_sshd(
    root: Path, host_keys: list[Path], authorized_keys: Path
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    config = root / f"sshd_config.{port}"
    lines = [
        f"Port {port}",
        "ListenAddress 127.0.0.1",
        *(f"HostKey {k}" for k in host_keys),
        f"PidFile {root / f'sshd.{port}.pid'}",
        f"AuthorizedKeysFile {authorized_keys}",
        "UsePAM no",
        "PermitRootLogin prohibit-password",
        "StrictModes no",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "AllowTcpForwarding yes",
        "MaxStartups 200:30:400",
        "MaxSessions 10",  # the OpenSSH default: the pool must stay under it per connection
        "LogLevel ERROR",
        "Subsystem sftp internal-sftp",
    ]
    config.write_text("\n".join(lines) + "\n")
    empty_home = root / "empty-home"
    empty_home.mkdir(exist_ok=True, mode=0o700)
    # sshd's privilege separation folder: a fresh machine whose openssh-server never started has none.
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    argv = [SSHD, "-D", "-e", "-f", str(config)]
    if shutil.which("unshare"):
        inner = f"mount --bind {empty_home} /root && exec {' '.join(argv)}"
        argv = ["unshare", "--mount", "sh", "-c", inner]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for_banner(port, proc)
    except BaseException:
        stop(proc)
        raise
    return proc, port


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SSHServer]:
    _need_sshd()
    root = tmp_path_factory.mktemp("sshd")
    (root / "empty_ssh_config").write_text("")
    host_keys = []
    for kind in ("ed25519", "ecdsa"):
        path = root / f"ssh_host_{kind}_key"
        _keygen(path, kind)
        host_keys.append(path)
    client_key = root / "client_key"
    _keygen(client_key, "ed25519")
    authorized = root / "authorized_keys"
    authorized.write_text(Path(f"{client_key}.pub").read_text())
    key_lines = {}
    for path in host_keys:
        kind, data = Path(f"{path}.pub").read_text().split()[:2]
        key_lines[kind] = f"{kind} {data}"
    proc, port = start_sshd(root, host_keys, authorized)
    try:
        yield SSHServer(port=port, root=root, client_key=client_key, host_key_lines=key_lines, pid=proc.pid)
    finally:
        stop(proc)


@pytest.fixture
def known_hosts(sshd: SSHServer, tmp_path: Path) -> Path:
    """A known_hosts file that trusts the test sshd's ed25519 key."""
    path = tmp_path / "known_hosts"
    path.write_text(sshd.known_hosts_line("ssh-ed25519"))
    return path
