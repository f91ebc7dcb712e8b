"""SSHTransport against a real sshd on 127.0.0.1 (see conftest.py)."""

from __future__ import annotations

import hashlib
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from orchestrator.commands.base import cmd, sh
from orchestrator.errors import AuthFailed, CommandTimeout, HostKeyError, HostUnreachable, TransportError
from orchestrator.transport.parallel import run_parallel
from orchestrator.transport.script import BatchOutputError

if TYPE_CHECKING:
    from conftest import SSHServer

pytestmark = pytest.mark.integration


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def blackhole() -> Iterator[int]:
    """A port that accepts TCP connections (kernel backlog) but never sends an SSH banner."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    try:
        yield s.getsockname()[1]
    finally:
        s.close()


def test_a_batch_of_20_steps_costs_one_exec_channel_with_every_result_right(
    sshd: SSHServer, known_hosts: Path
) -> None:
    t = sshd.transport(known_hosts)
    steps = [sh(f"s{i}", f"printf 'out{i}'; printf 'err{i}\\n' >&2; exit {i % 4}") for i in range(20)]
    try:
        result = t.run_batch(sshd.host(), steps)
    finally:
        t.close()
    assert t.counters.exec_channels == 1 and t.counters.per_host_exec == {"node1": 1}
    assert [(s.name, s.exit_code, s.stdout, s.stderr) for s in result.steps] == [
        (f"s{i}", i % 4, f"out{i}", f"err{i}\n") for i in range(20)
    ]


def test_two_batches_reuse_one_connection(sshd: SSHServer, known_hosts: Path) -> None:
    t = sshd.transport(known_hosts)
    try:
        assert t.run_batch(sshd.host(), [cmd("a", "true")]).ok
        assert t.run_batch(sshd.host(), [cmd("b", "true")]).ok
    finally:
        t.close()
    assert (t.counters.connects, t.counters.exec_channels) == (1, 2)


def test_a_dropped_pooled_connection_is_replaced(sshd: SSHServer, known_hosts: Path) -> None:
    t = sshd.transport(known_hosts)
    try:
        assert t.run_batch(sshd.host(), [cmd("a", "true")]).ok
        t.connection(sshd.host()).sock.close()  # the network dropped it (e.g. sshd restarted)
        assert t.run_batch(sshd.host(), [cmd("b", "echo", "back")])["b"].stdout == "back\n"
    finally:
        t.close()
    assert t.counters.connects == 2


def test_concurrent_batches_on_one_host_share_one_connection(sshd: SSHServer, known_hosts: Path) -> None:
    t = sshd.transport(known_hosts)
    results: list[str] = []

    def work(i: int) -> None:
        results.append(t.run_batch(sshd.host(), [sh("echo", f"sleep 0.3; echo {i}")])["echo"].stdout)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    try:
        for th in threads:
            th.start()
        for th in threads:
            th.join(30)
    finally:
        t.close()
    assert sorted(results) == sorted(f"{i}\n" for i in range(16))
    assert t.counters.connects == 1 and t.counters.exec_channels == 16


def test_large_output_on_both_streams_and_large_stdin_do_not_hang(sshd: SSHServer, known_hosts: Path) -> None:
    payload = bytes(range(256)) * 8192  # 2 MiB through stdin
    big = sh("big", "head -c 3000000 /dev/zero | tr '\\0' o; head -c 1000000 /dev/zero | tr '\\0' e >&2")
    t = sshd.transport(known_hosts)
    try:
        result = t.run_batch(
            sshd.host(), [big, sh("digest", "sha256sum | cut -d' ' -f1", stdin=payload)], timeout=60
        )
    finally:
        t.close()
    assert result["big"].stdout == "o" * 3000000 and result["big"].stderr == "e" * 1000000
    assert result["digest"].stdout.strip() == hashlib.sha256(payload).hexdigest()


def test_unknown_host_key_is_refused_under_strict_and_nothing_runs(sshd: SSHServer, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    marker = tmp_path / "ran"
    t = sshd.transport(empty)
    with pytest.raises(HostKeyError) as info:
        t.run_batch(sshd.host(), [cmd("touch", "touch", str(marker))])
    t.close()
    assert info.value.reason == "hostkey"
    assert "ssh-keyscan" in str(info.value) and "accept-new" in str(info.value)
    assert not marker.exists()
    assert empty.read_text() == ""
    assert t.counters.exec_channels == 0


def test_accept_new_learns_an_unknown_key_into_the_project_file(sshd: SSHServer, tmp_path: Path) -> None:
    user_file = tmp_path / "user_known_hosts"
    project_file = tmp_path / "project" / "known_hosts"
    t = sshd.transport(user_file, host_key_policy="accept-new", known_hosts=str(project_file))
    try:
        assert t.run_batch(sshd.host(), [cmd("a", "true")]).ok
    finally:
        t.close()
    assert not user_file.exists()
    learned = project_file.read_text()
    assert learned == sshd.known_hosts_line("ssh-ed25519")
    strict = sshd.transport(user_file, known_hosts=str(project_file))
    try:
        assert strict.run_batch(sshd.host(), [cmd("a", "true")]).ok
    finally:
        strict.close()
    assert project_file.read_text() == learned  # nothing appended twice


def test_a_changed_key_is_refused_even_with_accept_new(sshd: SSHServer, tmp_path: Path) -> None:
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    kind, data = Path(f"{other}.pub").read_text().split()[:2]
    known = tmp_path / "known_hosts"
    original = f"# keep me\n[127.0.0.1]:{sshd.port} {kind} {data}\nunparseable line kept as is\n"
    known.write_text(original)
    marker = tmp_path / "ran"
    t = sshd.transport(known, host_key_policy="accept-new")
    with pytest.raises(HostKeyError, match="HOST KEY CHANGED") as info:
        t.run_batch(sshd.host(), [cmd("touch", "touch", str(marker))])
    t.close()
    assert "ssh-keygen -R" in str(info.value)
    assert not marker.exists()
    assert known.read_text() == original


def test_a_known_host_offering_another_key_type_is_not_learned_twice(sshd: SSHServer, tmp_path: Path) -> None:
    """paramiko #518: only the ecdsa key is known; paramiko would prefer ed25519 and call it unknown."""
    known = tmp_path / "known_hosts"
    known.write_text(sshd.known_hosts_line("ecdsa-sha2-nistp256"))
    t = sshd.transport(known, host_key_policy="accept-new")
    try:
        assert t.run_batch(sshd.host(), [cmd("a", "true")]).ok
    finally:
        t.close()
    assert known.read_text() == sshd.known_hosts_line("ecdsa-sha2-nistp256")


def test_hashed_known_hosts_entries_are_honoured(sshd: SSHServer, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(sshd.known_hosts_line("ssh-ed25519"))
    subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(known)], check=True, capture_output=True)
    assert "|1|" in known.read_text() and "127.0.0.1" not in known.read_text()
    t = sshd.transport(known)
    try:
        assert t.run_batch(sshd.host(), [cmd("a", "true")]).ok
    finally:
        t.close()


def test_the_hosts_own_known_hosts_file_is_read(sshd: SSHServer, tmp_path: Path) -> None:
    empty = tmp_path / "user"
    own = tmp_path / "own_known_hosts"
    own.write_text(sshd.known_hosts_line())
    t = sshd.transport(empty)
    try:
        assert t.run_batch(sshd.host(known_hosts_file=str(own)), [cmd("a", "true")]).ok
    finally:
        t.close()


def test_a_closed_port_is_refused_fast(sshd: SSHServer, known_hosts: Path, closed_port: int) -> None:
    t = sshd.transport(known_hosts)
    start = time.monotonic()
    with pytest.raises(HostUnreachable) as info:
        t.run_batch(sshd.host(port=closed_port), [cmd("a", "true")])
    assert info.value.reason == "refused"
    assert "sshd running" in str(info.value)
    assert time.monotonic() - start < 2.0


def test_a_port_that_never_greets_times_out_within_the_connect_timeout(
    sshd: SSHServer, known_hosts: Path, blackhole: int
) -> None:
    t = sshd.transport(known_hosts, connect_timeout=1.0)
    start = time.monotonic()
    with pytest.raises(HostUnreachable) as info:
        t.run_batch(sshd.host(port=blackhole), [cmd("a", "true")])
    elapsed = time.monotonic() - start
    assert info.value.reason == "timeout"
    assert 0.9 < elapsed < 1.5


def test_a_wrong_key_fails_auth(sshd: SSHServer, known_hosts: Path, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(wrong)], check=True)
    t = sshd.transport(known_hosts)
    with pytest.raises(AuthFailed) as info:
        t.run_batch(sshd.host(key_file=str(wrong)), [cmd("a", "true")])
    assert info.value.reason == "auth"
    assert str(wrong) in str(info.value) and "authorized_keys" in str(info.value)


def test_a_missing_key_file_is_named_in_the_auth_error(
    sshd: SSHServer, known_hosts: Path, tmp_path: Path
) -> None:
    t = sshd.transport(known_hosts)
    with pytest.raises(AuthFailed, match="not found"):
        t.run_batch(sshd.host(key_file=str(tmp_path / "nope")), [cmd("a", "true")])


def test_proxy_jump_through_a_jump_host_from_ssh_config(
    sshd: SSHServer, known_hosts: Path, tmp_path: Path
) -> None:
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host target\n  HostName 127.0.0.1\n  Port {sshd.port}\n  User root\n  IdentityFile {sshd.client_key}\n"
        "  ProxyJump jumpbox\n"
        f"Host jumpbox\n  HostName 127.0.0.1\n  Port {sshd.port}\n  User root\n  IdentityFile {sshd.client_key}\n"
    )
    from orchestrator.config import SSHSettings
    from orchestrator.inventory.host import Host
    from orchestrator.transport.ssh import SSHTransport

    t = SSHTransport(SSHSettings(), known_hosts_files=[str(known_hosts)], ssh_config_path=str(config))
    host = Host(name="behind", address="target")
    try:
        result = t.run_batch(host, [sh("who", "echo $SSH_CONNECTION")])
        again = t.run_batch(host, [cmd("a", "true")])
    finally:
        t.close()
    # the target saw a connection forwarded by the jump host (sshd connects from 127.0.0.1)
    assert result["who"].ok and result["who"].stdout.startswith("127.0.0.1 ")
    assert again.ok
    assert t.counters.connects == 2  # the jump host and the target, each once


def test_a_command_timeout_raises_and_the_connection_stays_usable(sshd: SSHServer, known_hosts: Path) -> None:
    t = sshd.transport(known_hosts)
    start = time.monotonic()
    try:
        with pytest.raises(CommandTimeout):
            t.run_batch(sshd.host(), [cmd("slow", "sleep", "5")], timeout=0.5)
        assert time.monotonic() - start < 2.0
        assert t.run_batch(sshd.host(), [cmd("a", "true")]).ok
    finally:
        t.close()


def test_become_without_sudo_on_the_host_says_the_batch_did_not_start(
    sshd: SSHServer, known_hosts: Path
) -> None:
    if subprocess.run(["sh", "-c", "command -v sudo"], capture_output=True).returncode == 0:
        pytest.skip("sudo is installed here; this checks the failure message when it is not")
    t = sshd.transport(known_hosts)
    try:
        with pytest.raises(BatchOutputError, match="did not start"):
            t.run_batch(sshd.host(become=True), [cmd("a", "true")])
    finally:
        t.close()


def test_put_file_writes_atomically_with_the_mode(sshd: SSHServer, known_hosts: Path, tmp_path: Path) -> None:
    target = tmp_path / "dir" / "file.cfg"
    target.parent.mkdir()
    t = sshd.transport(known_hosts)
    try:
        t.put_file(sshd.host(), str(target), b"first\n")
        t.put_file(sshd.host(), str(target), b"second, no newline", mode=0o600)
        with pytest.raises(TransportError, match="cannot write"):
            t.put_file(sshd.host(), str(tmp_path / "missing" / "x"), b"data")
    finally:
        t.close()
    assert target.read_bytes() == b"second, no newline"
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["file.cfg"]  # no temp files left
    assert t.counters.files_put == 2


def test_stream_yields_lines_and_closing_it_closes_the_channel(sshd: SSHServer, known_hosts: Path) -> None:
    t = sshd.transport(known_hosts)
    try:
        lines = t.stream(
            sshd.host(), sh("ticks", "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.02; done")
        )
        first = [next(lines) for _ in range(3)]
        lines.close()
        assert first == ["tick 1", "tick 2", "tick 3"]
        finite = list(t.stream(sshd.host(), sh("two", "printf 'a\\nb'")))
        assert finite == ["a", "b"]
        with pytest.raises(TransportError, match="exited with 3"):
            list(t.stream(sshd.host(), sh("fails", "echo boom >&2; exit 3")))
    finally:
        t.close()
    assert t.counters.exec_channels == 3


def test_run_parallel_an_unreachable_host_never_delays_the_others(
    sshd: SSHServer, known_hosts: Path, blackhole: int
) -> None:
    t = sshd.transport(known_hosts, connect_timeout=1.0)
    hosts = [sshd.host("dead", port=blackhole), *(sshd.host(f"n{i}") for i in range(4))]
    finished: dict[str, float] = {}
    start = time.monotonic()

    def probe(host):  # type: ignore[no-untyped-def]
        try:
            return t.run_batch(host, [cmd("a", "echo", host.name)])["a"].stdout
        finally:
            finished[host.name] = time.monotonic() - start

    try:
        results = run_parallel(hosts, probe, max_workers=8)
    finally:
        t.close()
    assert isinstance(results["dead"], HostUnreachable) and results["dead"].reason == "timeout"
    assert {n: results[n] for n in ("n0", "n1", "n2", "n3")} == {f"n{i}": f"n{i}\n" for i in range(4)}
    assert max(finished[f"n{i}"] for i in range(4)) < 0.8
    assert finished["dead"] < 1.5


def test_a_stream_silent_past_idle_says_the_host_is_unreachable_and_the_next_command_reconnects(
        sshd: SSHServer, known_hosts: Path) -> None:
    t = sshd.transport(known_hosts)
    try:
        started = time.monotonic()
        with pytest.raises(HostUnreachable, match="nothing from the host for 0.5s") as e:
            list(t.stream(sshd.host(), sh("quiet", "echo one; sleep 30"), idle=0.5))
        assert e.value.reason == "timeout" and time.monotonic() - started < 10
        beating = t.stream(sshd.host(), sh("beats", "while :; do echo beat; sleep 0.1; done"), idle=0.5)
        assert [next(beating) for _ in range(10)] == ["beat"] * 10  # a beat every 0.1 s keeps it open
        beating.close()
        assert t.run_batch(sshd.host(), [sh("after", "echo ok")]).ok
    finally:
        t.close()
