"""Local command running and process helpers for the lab (the lab is built on this machine, as root)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from orchestrator.errors import LabError

# tool -> Debian package that provides it
REQUIRED_TOOLS = {
    "ip": "iproute2",
    "iptables": "iptables",
    "nsenter": "util-linux",
    "dockerd": "docker.io",
    "docker": "docker.io",
    "sshd": "openssh-server",
    "ssh-keygen": "openssh-client",
    "busybox": "busybox-static",
    "haproxy": "haproxy",
}
SBIN_PATHS = ["/usr/local/sbin", "/usr/sbin", "/sbin"]


def which(tool: str) -> str | None:
    found = shutil.which(tool)
    if found:
        return found
    for d in SBIN_PATHS:
        p = Path(d) / tool
        if p.exists():
            return str(p)
    return None


def check_prerequisites() -> None:
    """Root and every tool present, else one error that says what to install."""
    problems = []
    if os.geteuid() != 0:
        problems.append("the lab needs root (network namespaces, dockerd): run it as root, e.g. with sudo")
    missing = sorted({pkg for tool, pkg in REQUIRED_TOOLS.items() if which(tool) is None})
    if missing:
        problems.append(f"missing tools: install them with: apt-get install -y {' '.join(missing)}")
    if which("busybox") and not _is_static(which("busybox") or ""):
        problems.append("busybox is not the static build: apt-get install -y busybox-static")
    if problems:
        raise LabError("cannot build the lab:\n  " + "\n  ".join(problems))


def _is_static(path: str) -> bool:
    try:
        out = subprocess.run(["ldd", path], capture_output=True, text=True).stdout + ""
    except FileNotFoundError:
        return True
    return "not a dynamic executable" in out or "statically linked" in out or not out


def run(argv: Sequence[str], *, check: bool = True, input: bytes | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    try:
        cp = subprocess.run(list(argv), capture_output=True, input=input, timeout=timeout)
    except FileNotFoundError as e:
        raise LabError(f"{argv[0]} not found: {e}") from e
    except subprocess.TimeoutExpired as e:
        raise LabError(f"{' '.join(argv)} timed out after {timeout:.0f}s") from e
    if check and cp.returncode != 0:
        err = cp.stderr.decode(errors="replace").strip() or cp.stdout.decode(errors="replace").strip()
        raise LabError(f"{' '.join(argv)} failed (exit {cp.returncode}): {err}")
    return cp


def ok(argv: Sequence[str]) -> bool:
    return run(argv, check=False).returncode == 0


def read_pid(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return False


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def pids_matching(fragment: str) -> list[int]:
    """Processes whose command line mentions `fragment` (a path unique to the lab)."""
    me = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != me and fragment in cmdline(int(entry.name)):
            found.append(int(entry.name))
    return found


def terminate(pids: Sequence[int], *, grace: float = 10.0) -> None:
    """SIGTERM, wait up to `grace`, then SIGKILL what is left."""
    live = [p for p in pids if pid_alive(p)]
    for p in live:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while live and time.monotonic() < deadline:
        live = [p for p in live if pid_alive(p)]
        time.sleep(0.05)
    for p in live:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while any(pid_alive(p) for p in live) and time.monotonic() < deadline:
        time.sleep(0.05)


def mounts_under(prefix: Path) -> list[str]:
    out = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        parts = line.split()
        if len(parts) > 1:
            target = parts[1].replace("\\040", " ")
            if target == str(prefix) or target.startswith(str(prefix) + "/"):
                out.append(target)
    return out


def unmount_all(prefix: Path) -> None:
    for target in sorted(mounts_under(prefix), key=len, reverse=True):
        run(["umount", "-l", target], check=False)
