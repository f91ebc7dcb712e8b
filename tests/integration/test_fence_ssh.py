"""The host-side fence over real SSH (the local sshd of conftest.py): tokens recorded and refused on the host,
the host lock covering whole batches, the executor reporting a refusal."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from orchestrator.act.executor import Runtime, execute, refused_hosts
from orchestrator.act.fence import REFUSED, HostFence, fence_step
from orchestrator.commands.base import sh
from orchestrator.plan.types import Plan, UpdateHostsFile
from orchestrator.store.sqlite import SQLiteStore

if TYPE_CHECKING:
    from conftest import SSHServer

pytestmark = pytest.mark.integration


def _locked(path: Path) -> bool:
    return path.exists() and subprocess.run(["flock", "-n", str(path), "true"]).returncode != 0


def test_batches_record_the_token_and_a_stale_one_is_refused(sshd: SSHServer, known_hosts: Path,
                                                             tmp_path: Path) -> None:
    state, log = tmp_path / "state", tmp_path / "log"
    host = sshd.host("node1", vars={"orc_state_dir": str(state)})
    t = sshd.transport(known_hosts)
    try:
        # A slow batch under token 5 holds the host lock; token 6's batch waits for it, then runs.
        first: list[object] = []
        slow = threading.Thread(target=lambda: first.append(t.run_batch(host, [
            fence_step(str(state), "c1", 5), sh("one", f"sleep 1; echo one >> {log}")])))
        slow.start()
        deadline = time.monotonic() + 10
        while not _locked(state / "c1" / "fence.lock"):
            assert time.monotonic() < deadline, "the first batch never took the host lock"
            time.sleep(0.02)
        second = t.run_batch(host, [fence_step(str(state), "c1", 6), sh("two", f"echo two >> {log}")])
        slow.join(10)
        assert second.ok and first[0].ok  # type: ignore[attr-defined]
        assert log.read_text() == "one\ntwo\n"  # never interleaved
        assert (state / "c1" / "token").read_text() == "6\n"

        stale = t.run_batch(host, [fence_step(str(state), "c1", 5), sh("three", f"echo three >> {log}")])
        assert stale.steps[0].exit_code == REFUSED and stale.steps[0].stdout == "ORC-FENCE-REFUSED 6\n"
        assert stale.steps[1].exit_code is None and log.read_text() == "one\ntwo\n"
        assert t.counters.exec_channels == 3  # each batch, fence included, is one round trip
    finally:
        t.close()


def test_the_executor_over_ssh_records_then_reports_a_refusal(sshd: SSHServer, known_hosts: Path,
                                                              tmp_path: Path) -> None:
    state, hosts_file = tmp_path / "state", tmp_path / "hosts"
    host = sshd.host("node1", vars={"orc_state_dir": str(state)})
    t = sshd.transport(known_hosts)
    with SQLiteStore(tmp_path / "state.db").lock("reconcile", ttl=30) as lease:
        fence = HostFence("c1", lease)
        try:
            plan = Plan(actions=[UpdateHostsFile("node1", str(hosts_file), "10.233.0.2 web\n")])
            results = execute(plan, [host], t, Runtime("pause:3.9", cluster="c1"), host_fence=fence)
            assert [(r.step, r.ok) for r in results] == [("proxy-hosts", True)]
            assert hosts_file.read_text() == "10.233.0.2 web\n"
            assert (state / "c1" / "token").read_text() == f"{lease.token}\n"
            # Another controller's batch (a newer lease) reaches the host.
            newer = lease.token + 1000
            assert t.run_batch(host, [fence_step(str(state), "c1", newer)]).ok
            plan = Plan(actions=[UpdateHostsFile("node1", str(hosts_file), "10.233.0.9 stale\n")])
            results = execute(plan, [host], t, Runtime("pause:3.9", cluster="c1"), host_fence=fence)
            assert [(r.step, r.ok) for r in results] == [("fence", False), ("proxy-hosts", False)]
            assert f"has seen fencing token {newer} of cluster c1, newer than this controller's {lease.token}" \
                in results[0].error
            assert refused_hosts(results) == {"node1": newer}
            assert hosts_file.read_text() == "10.233.0.2 web\n"  # the refused batch ran nothing
        finally:
            t.close()
