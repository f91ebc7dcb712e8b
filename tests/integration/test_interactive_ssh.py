"""`orc exec`'s session loop (transport/interactive.py) and `orc run` against a real sshd on 127.0.0.1: a
pseudo-terminal of the asked size that follows window changes, ^C delivered through it, stdin forwarded and
closed, stdout and stderr apart without a pty, the remote exit status; `orc run` in Ansible's shape."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from orchestrator.transport.interactive import PtyRequest, run_interactive

if TYPE_CHECKING:
    from conftest import SSHServer

pytestmark = pytest.mark.integration


def _session(sshd: SSHServer, known_hosts: Path, command: str, *, feed: bytes | None = None,
             pty: PtyRequest | None = None, winch: bool = False, after: float = 0.0,
             size: tuple[int, int] = (80, 24)) -> tuple[int, bytes, bytes]:
    """Run `command` through run_interactive with stdin from a pipe (written `feed` after `after` s, then
    closed unless a pty is used), stdout/stderr into pipes; (status, stdout, stderr)."""
    t = sshd.transport(known_hosts)
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    wake_r, wake_w = os.pipe()
    outs: dict[int, bytes] = {out_r: b"", err_r: b""}

    def read(fd: int) -> None:
        while chunk := os.read(fd, 65536):
            outs[fd] += chunk

    readers = [threading.Thread(target=read, args=(fd,), daemon=True) for fd in (out_r, err_r)]
    for r in readers:
        r.start()

    def write() -> None:
        threading.Event().wait(after)
        if winch:
            os.write(wake_w, b"w")
        if feed is not None:
            os.write(in_w, feed)
        if pty is None:
            os.close(in_w)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        with t.channel(sshd.host()) as chan:
            status = run_interactive(chan, command, stdin_fd=in_r, stdout_fd=out_w, stderr_fd=err_w, pty=pty,
                                     winch_fd=wake_r, size=lambda: size)
    finally:
        t.close()
        os.close(out_w)
        os.close(err_w)
    for r in readers:
        r.join(5)
    writer.join(5)
    for fd in (in_r, out_r, err_r, wake_r, wake_w) + (() if pty is None else (in_w,)):
        os.close(fd)
    return status, outs[out_r], outs[err_r]


def test_without_a_pty_stdin_is_forwarded_and_closed_and_the_streams_stay_apart(
        sshd: SSHServer, known_hosts: Path) -> None:
    status, out, err = _session(sshd, known_hosts, "cat; echo to-err >&2; exit 7", feed=b"\x00\xffbytes\n")
    assert (status, out, err) == (7, b"\x00\xffbytes\n", b"to-err\n")


def test_a_pty_has_the_asked_size_and_reads_what_is_typed(sshd: SSHServer, known_hosts: Path) -> None:
    status, out, _ = _session(sshd, known_hosts, "stty size; read x; echo got:$x; exit 3",
                              feed=b"hello\r", pty=PtyRequest("xterm", 100, 30), after=0.5)
    assert status == 3
    assert b"30 100" in out and b"got:hello" in out


def test_a_window_change_resizes_the_remote_pty(sshd: SSHServer, known_hosts: Path) -> None:
    script = "trap 'stty size; exit 5' WINCH; echo ready; while :; do sleep 0.1; done"
    status, out, _ = _session(sshd, known_hosts, script, pty=PtyRequest("xterm", 80, 24), winch=True,
                              after=1.0, size=(132, 43))
    assert status == 5 and b"43 132" in out


def test_ctrl_c_goes_to_the_remote_process_through_the_pty(sshd: SSHServer, known_hosts: Path) -> None:
    script = "trap 'echo caught; exit 42' INT; echo ready; while :; do sleep 0.1; done"
    status, out, _ = _session(sshd, known_hosts, script, feed=b"\x03", pty=PtyRequest("xterm", 80, 24), after=1.0)
    assert status == 42 and b"caught" in out


def test_orc_run_prints_each_host_in_ansibles_shape_and_exits_as_ansible(
        sshd: SSHServer, known_hosts: Path, tmp_path: Path) -> None:
    (tmp_path / "empty_ssh_config").write_text("")
    (tmp_path / "orc.yaml").write_text(
        "cluster: adhoc\ninventory: hosts.yaml\nstore: sqlite:.orc/state.db\n"
        f"ssh: {{known_hosts: {known_hosts}, ssh_config: {tmp_path / 'empty_ssh_config'}, connect_timeout: 3}}\n")
    hosts = {"n1": sshd.port, "n2": sshd.port, "down": 1}
    (tmp_path / "hosts.yaml").write_text("all:\n  hosts:\n" + "".join(
        f"    {n}: {{ansible_host: 127.0.0.1, ansible_port: {p}, ansible_user: root, "
        f"ansible_ssh_private_key_file: {sshd.client_key}, orc_known_hosts_file: {known_hosts}}}\n"
        for n, p in hosts.items()))
    env = {**os.environ, "HOME": str(tmp_path)}  # never the real ~/.ssh/known_hosts

    def orc(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "orchestrator.cli.main", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)

    ok = orc("run", "n*", "--", "echo $((6*7)) | tr 4 X; echo err >&2")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.count(" | CHANGED | rc=0 >>\nX2err\n") == 2
    assert {line.split(" | ")[0] for line in ok.stdout.splitlines() if " | " in line} == {"n1", "n2"}
    failed = orc("run", "n1", "--", "ls", "/nonexistent-orc")
    assert failed.returncode == 2
    assert failed.stdout.startswith("n1 | FAILED | rc=") and failed.stdout.rstrip().endswith("non-zero return code")
    quoted = orc("run", "n1", "--", "printf '%s\\n' \"$0\" 'a;b' '$(id)'")
    assert quoted.returncode == 0 and quoted.stdout == "n1 | CHANGED | rc=0 >>\nsh\na;b\n$(id)\n"
    down = orc("run", "all", "-f", "3", "--", "true")
    assert down.returncode == 4, down.stdout + down.stderr
    assert "down | UNREACHABLE! => {" in down.stdout and '"unreachable": true' in down.stdout
    assert down.stdout.count("| CHANGED | rc=0 >>") == 2
    none = orc("run", "nohost*", "--", "true")
    assert none.returncode == 0 and "No hosts matched" in none.stderr
