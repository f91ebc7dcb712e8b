"""bench/ssh_floor.py against the test sshd: importable, and its figures come from real sweeps."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import SSHServer

pytestmark = pytest.mark.integration

BENCH = Path(__file__).resolve().parents[2] / "bench" / "ssh_floor.py"


def load_bench():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("ssh_floor", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("ssh_floor", module)  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


def test_floor_times_fresh_and_reused_sweeps(sshd: SSHServer, known_hosts: Path) -> None:
    bench = load_bench()
    hosts = [sshd.host(f"n{i}") for i in range(3)]
    figures = bench.floor(hosts, runs=2, known_hosts_files=[str(known_hosts)])
    assert figures.failures == {}
    assert len(figures.fresh) == 2 and len(figures.reused) == 2
    assert figures.reused_median < figures.fresh_median  # a reused connection skips kex and auth
    assert "median" in figures.report()


def test_the_command_line_reads_an_inventory(
    sshd: SSHServer, known_hosts: Path, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(
        f"[all]\nn1 ansible_host=127.0.0.1 ansible_port={sshd.port} ansible_user=root "
        f"ansible_ssh_private_key_file={sshd.client_key}\n"
    )
    config = tmp_path / "orc.yaml"
    config.write_text(f"ssh:\n  known_hosts: {known_hosts.name}\n")
    rc = load_bench().main(["-i", str(inventory), "-n", "1", "--config", str(config)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "hosts: 1" in out and "reused connections" in out
