"""Working in pods on the real lab: `orc exec -it` driven under a real pseudo-terminal runs an interactive
shell (the pty has the terminal's size and follows its changes, ^C reaches the remote process, the exit
status comes back), `orc logs -l app=web -f` streams from every pod at once, `orc logs -p` reads the run
before a restart, `orc logs deploy/NAME` picks one pod, and `orc run 'LAB*' -- uname -r` answers once per
host."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from orchestrator.lab import daemons
from tests.e2e.conftest import lab_pods
from tests.e2e.helpers import orc

pytestmark = pytest.mark.e2e

WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: talk
        image: local/busybox:1
        command: [sh, -c, 'echo started; i=0; while :; do echo "tick $i"; i=$((i+1)); sleep 0.3; done']
"""


def running_web(project: Path, lab) -> list[str]:  # type: ignore[no-untyped-def]
    (project / "web.yaml").write_text(WEB)
    assert orc("apply", "-f", "web.yaml", cwd=project).returncode == 0
    cp = orc("reconcile", cwd=project)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    pods = sorted(p for names in lab_pods(lab, "deploy/web").values() for p in names)
    assert len(pods) == 2
    return pods


def set_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class Terminal:
    """`orc` on the slave side of a fresh pty (its controlling terminal), read and typed on the master."""

    def __init__(self, args: list[str], cwd: Path, rows: int = 24, cols: int = 80):
        self.master, slave = pty.openpty()
        set_size(slave, rows, cols)
        self.proc = subprocess.Popen([sys.executable, "-m", "orchestrator.cli.main", *args], cwd=cwd,
                                     stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                                     preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
        self.slave = slave  # kept open: its settings after orc exits show whether orc restored them
        self.seen = b""

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def expect(self, needle: bytes, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"{needle!r} not seen within {timeout}s; got {self.seen[-2000:]!r}"
            r, _, _ = select.select([self.master], [], [], min(left, 0.5))
            if r:
                try:
                    self.seen += os.read(self.master, 65536)
                except OSError:  # the slave side closed: orc exited
                    assert needle in self.seen, f"orc exited before {needle!r}: {self.seen[-2000:]!r}"

    def wait(self, timeout: float = 20.0) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            assert time.monotonic() < deadline, f"orc did not exit: {self.seen[-2000:]!r}"
            r, _, _ = select.select([self.master], [], [], 0.2)
            if r:
                with contextlib.suppress(OSError):
                    self.seen += os.read(self.master, 65536)
        return self.proc.returncode

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        os.close(self.master)
        os.close(self.slave)


def test_exec_it_runs_an_interactive_shell_under_a_real_pty(lab, project: Path) -> None:
    pod = running_web(project, lab)[0]
    term = Terminal(["exec", "-it", pod, "--", "sh"], project, rows=33, cols=101)
    try:
        term.expect(b"# ")  # busybox sh's root prompt: the shell is interactive
        term.send(b"echo $((6*7))\r")
        term.expect(b"\r\n42\r\n")
        term.send(b"stty size\r")
        term.expect(b"33 101")  # the remote pty has the local terminal's size
        assert termios.tcgetattr(term.slave)[3] & termios.ECHO == 0  # raw mode while the shell runs
        set_size(term.master, 40, 120)  # the kernel sends orc (the pty's foreground job) SIGWINCH
        term.send(b"stty size\r")
        term.expect(b"40 120", 10)  # the remote pty followed
        term.send(b"sleep 60\r")
        time.sleep(0.5)
        term.send(b"\x03")  # ^C: raw mode passes it on; the remote pty interrupts sleep
        term.send(b"echo after-$?\r")
        term.expect(b"after-130", 10)
        term.send(b"exit 3\r")
        assert term.wait() == 3
        assert termios.tcgetattr(term.slave)[3] & termios.ECHO  # orc left raw mode: the terminal echoes again
    finally:
        term.close()


def test_exec_i_pipes_stdin_without_a_tty(lab, project: Path) -> None:
    pod = running_web(project, lab)[1]
    cp = orc("exec", "-i", pod, "--", "sh", "-c", "cat; exit 4", cwd=project, input="hi\n")
    assert cp.returncode == 4 and cp.stdout == "hi\n"
    cp = orc("exec", "-it", pod, "--", "cat", cwd=project, input="no tty\n")  # stdin is not a terminal
    assert cp.returncode == 0 and cp.stdout == "no tty\n"
    assert "Unable to use a TTY" in cp.stderr


def test_logs_selector_follows_every_pod_at_once(lab, project: Path) -> None:
    pods = running_web(project, lab)
    proc = subprocess.Popen([sys.executable, "-m", "orchestrator.cli.main", "logs", "-l", "app=web", "-f"],
                            cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    try:
        os.set_blocking(proc.stdout.fileno(), False)
        seen: dict[str, set[str]] = {p: set() for p in pods}
        buffer, deadline = b"", time.monotonic() + 30
        while not all(len(v) >= 3 for v in seen.values()):  # new lines from both, while following
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, f"lines seen: {seen}"
            select.select([proc.stdout], [], [], 0.5)
            buffer += proc.stdout.read() or b""
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                text = line.decode()
                for p in pods:
                    if text.startswith(f"[pod/{p}/talk] tick "):
                        seen[p].add(text)
    finally:
        proc.terminate()
        proc.wait(10)


def test_logs_previous_deploy_and_since(lab, project: Path) -> None:
    pods = running_web(project, lab)
    (host,) = [h for h, names in lab_pods(lab, "deploy/web").items() if pods[0] in names]
    none = orc("logs", pods[0], "-p", cwd=project)
    assert none.returncode == 1 and f'previous terminated container "talk" in pod "{pods[0]}" not found' in none.stderr
    daemons.docker(lab.spec.host_named(host), "restart", "-t", "1", f"orc_{pods[0]}_talk")
    time.sleep(1)
    prev = orc("logs", pods[0], "-p", "--timestamps", cwd=project)
    assert prev.returncode == 0, prev.stderr
    lines = prev.stdout.splitlines()
    assert lines[0].endswith(" started") and sum(line.endswith(" started") for line in lines) == 1  # one run
    one = orc("logs", "deploy/web", "--tail", "1", cwd=project)
    assert one.returncode == 0 and "Found 2 pods, using pod/" in one.stderr and len(one.stdout.splitlines()) == 1
    every = orc("logs", "deploy/web", "--all-pods", cwd=project)
    assert every.returncode == 0
    assert {line.split(" ")[0] for line in every.stdout.splitlines()} == {f"[pod/{p}/talk]" for p in pods}
    time.sleep(3)  # the pod has talked for several seconds: ~3 lines a second
    recent = orc("logs", pods[1], "--since", "1s", cwd=project)
    full = orc("logs", pods[1], cwd=project)
    assert recent.returncode == 0 and 0 < len(recent.stdout.splitlines()) < len(full.stdout.splitlines()) / 2
    assert "started" not in recent.stdout and "started" in full.stdout


def test_run_answers_once_per_host(lab, project: Path) -> None:
    names = [h.name for h in lab.spec.lab_hosts()]
    cp = orc("run", f"{lab.spec.name}*", "--", "uname -r", cwd=project)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    heads = [line for line in cp.stdout.splitlines() if " | " in line]
    assert sorted(h.split(" | ")[0] for h in heads) == sorted(names)
    assert all(h.endswith(" | CHANGED | rc=0 >>") for h in heads)
    assert len(cp.stdout.splitlines()) == 2 * len(names)  # one line of output each
    failed = orc("run", names[0], "--", "exit 9", cwd=project)
    assert failed.returncode == 2 and failed.stdout.startswith(f"{names[0]} | FAILED | rc=9 >>")
