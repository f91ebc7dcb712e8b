"""Per-host daemons of the lab: a dockerd and an sshd inside the host's network namespace."""

from __future__ import annotations

import os
import subprocess
import time

from orchestrator.errors import LabError
from orchestrator.lab import system
from orchestrator.lab.spec import LabHost, LabSpec

SSHD_CONFIG = """\
# written by `orc lab up` for lab host {name}
Port 22
ListenAddress {address}
HostKey {host_key}
PidFile {pidfile}
AuthorizedKeysFile {authorized_keys}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
MaxSessions 200
MaxStartups 200:30:400
AllowTcpForwarding yes
LogLevel ERROR
Subsystem sftp internal-sftp
SetEnv DOCKER_HOST=unix://{docker_sock} ORC_LAB_HOST={name}
"""


def dockerd_pid(h: LabHost) -> int | None:
    return system.read_pid(h.dockerd_pidfile)


def sshd_pid(h: LabHost) -> int | None:
    return system.read_pid(h.sshd_pidfile)


def docker(h: LabHost, *args: str, input: bytes | None = None, check: bool = True,
           timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    return system.run([system.which("docker") or "docker", "-H", f"unix://{h.docker_sock}", *args],
                      input=input, check=check, timeout=timeout)


def start_dockerd(h: LabHost) -> None:
    if dockerd_pid(h):
        return
    h.run_dir.mkdir(parents=True, exist_ok=True)
    (h.data_dir / "docker").mkdir(parents=True, exist_ok=True)
    log = open(h.data_dir / "dockerd.log", "ab")  # noqa: SIM115 - handed to the daemon
    argv = [
        "nsenter", f"--net=/var/run/netns/{h.netns}",
        system.which("dockerd") or "dockerd",
        "--data-root", str(h.data_dir / "docker"),
        "--exec-root", str(h.run_dir / "exec"),
        "-H", f"unix://{h.docker_sock}",
        "--pidfile", str(h.dockerd_pidfile),
        "--storage-driver", "overlay2",
        "--log-level", "warn",
    ]
    # Not `ip netns exec`: it remounts /sys, the cgroup mounts vanish and dockerd dies (LAB.md).
    # TMPDIR: containerd dumps its stacks there when stopped; keep them in the host's own folder.
    tmp = h.run_dir / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
                     env={**os.environ, "TMPDIR": str(tmp)})
    log.close()


def wait_dockerd(h: LabHost, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if docker(h, "version", "--format", "{{.Server.Version}}", check=False, timeout=10).returncode == 0:
            return
        time.sleep(0.2)
    tail = (h.data_dir / "dockerd.log").read_text(errors="replace")[-2000:]
    raise LabError(f"dockerd of {h.name} did not become ready in {timeout:.0f}s; its log ends:\n{tail}")


def write_sshd_config(h: LabHost, spec: LabSpec) -> None:
    h.data_dir.mkdir(parents=True, exist_ok=True)
    h.home.mkdir(parents=True, exist_ok=True)
    if not h.host_key.exists():
        system.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"orc-lab-{h.name}",
                    "-f", str(h.host_key)])
    authorized = h.data_dir / "authorized_keys"
    authorized.write_text(spec.client_key.with_suffix(".pub").read_text())
    h.sshd_config.write_text(SSHD_CONFIG.format(
        name=h.name, address=h.address, host_key=h.host_key, pidfile=h.sshd_pidfile,
        authorized_keys=authorized, docker_sock=h.docker_sock))


def start_sshd(h: LabHost) -> None:
    if sshd_pid(h):
        return
    h.run_dir.mkdir(parents=True, exist_ok=True)
    system.run(["mkdir", "-p", "/run/sshd"])
    sshd = system.which("sshd") or "/usr/sbin/sshd"
    # Its own UTS namespace (so `hostname` answers the lab host's name) and an empty /root bound over the
    # machine's: root's ~/.bashrc here runs `pyenv init`, ~100 ms per exec that a lab host should not pay.
    script = (f'hostname {h.name} && mount --bind "{h.home}" /root && '
              f'exec {sshd} -f "{h.sshd_config}" -E "{h.data_dir / "sshd.log"}"')
    system.run(["ip", "netns", "exec", h.netns, "unshare", "--uts", "--", "sh", "-c", script])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if sshd_pid(h):
            return
        time.sleep(0.05)
    raise LabError(f"sshd of {h.name} did not start; see {h.data_dir / 'sshd.log'}")


def stop_sshd(h: LabHost) -> None:
    pid = sshd_pid(h)
    if pid:
        system.terminate([pid], grace=5)
    h.sshd_pidfile.unlink(missing_ok=True)


def stop_dockerd(h: LabHost, *, remove_containers: bool) -> None:
    if remove_containers and dockerd_pid(h):
        ids = docker(h, "ps", "-aq", check=False, timeout=30).stdout.decode().split()
        if ids:
            docker(h, "rm", "-f", *ids, check=False, timeout=120)
    pid = dockerd_pid(h)
    if pid:
        system.terminate([pid], grace=20)
    h.dockerd_pidfile.unlink(missing_ok=True)


def kill_leftovers(h: LabHost) -> None:
    """containerd, shims, haproxy and anything else started for this host: found by the host's own paths
    or its network namespace, so nothing outside the lab is ever touched."""
    from orchestrator.lab import network

    pids = set(system.pids_matching(str(h.run_dir) + "/")) | set(system.pids_matching(str(h.data_dir) + "/"))
    pids |= set(network.netns_pids(h.netns))
    if pids:
        system.terminate(sorted(pids), grace=5)
