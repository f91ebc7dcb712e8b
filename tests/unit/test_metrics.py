"""Metrics you can alert on: rendered by prometheus-client, parsed back with a Prometheus text-format parser
(prometheus-client's, and `promtool check metrics` when it is installed); the last pass's timestamp at full
precision; counters and the pass histogram kept in the store, so two cron runs with one failed creation
each count 2; per-controller desired/ready, per-host ready, pending pods."""

from __future__ import annotations

import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from orchestrator.metrics import Metrics
from tests.harness.lab import SimLab
from tests.unit.plan_fixtures import rc_doc


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[SimLab]:
    lab = SimLab(tmp_path, start=1_796_160_123.456789)
    yield lab
    lab.close()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


def cron_run(lab: SimLab, path: Path) -> dict:
    """What one `orc reconcile --metrics-file` run does: a fresh Metrics on the same store, one pass."""
    metrics = Metrics(str(path), lab.store)
    metrics.record(lab.reconcile())
    metrics.close()
    return samples(path.read_text())


def test_the_metrics_file_parses_and_says_what_to_alert_on(lab: SimLab, tmp_path: Path) -> None:
    lab.apply(rc_doc("web", 2), rc_doc("big", 1, memory="64Gi"))
    s = cron_run(lab, tmp_path / "orc.prom")
    assert s[("orc_last_pass_timestamp_seconds", ())] == pytest.approx(1_796_160_123.456789, abs=1e-6)
    assert "1.79616e+09" not in (tmp_path / "orc.prom").read_text()
    assert s[("orc_pods_desired", (("controller", "rc/web"),))] == 2
    assert s[("orc_pods_pending", (("controller", "rc/big"),))] == 1 and s[("orc_pending_pods", ())] == 1
    assert s[("orc_host_ready", (("host", "h1"),))] == 1 and s[("orc_hosts", (("status", "Ready"),))] == 3
    assert s[("orc_actions_total", (("action", "create"), ("result", "ok")))] == 2
    assert s[("orc_pass_duration_seconds_count", ())] == 1
    assert ("orc_pass_duration_seconds_bucket", (("le", "+Inf"),)) in s
    promtool = shutil.which("promtool")
    if promtool:  # Prometheus' own linter and parser, where it is installed
        cp = subprocess.run([promtool, "check", "metrics"], input=(tmp_path / "orc.prom").read_text(), text=True,
                            capture_output=True)
        assert cp.returncode == 0, cp.stdout + cp.stderr


def test_two_cron_runs_with_one_failed_creation_each_count_two(lab: SimLab, tmp_path: Path) -> None:
    lab.apply(rc_doc("web", 1))
    lab.fail_next_run("nginx:1.25")
    first = cron_run(lab, tmp_path / "orc.prom")
    assert first[("orc_actions_total", (("action", "create"), ("result", "failed")))] == 1
    lab.clock.advance(60)  # past the back-off
    lab.fail_next_run("nginx:1.25")
    second = cron_run(lab, tmp_path / "orc.prom")
    assert second[("orc_actions_total", (("action", "create"), ("result", "failed")))] == 2
    assert second[("orc_passes_total", ())] == 2 and second[("orc_pass_duration_seconds_count", ())] == 2


def test_watch_serves_the_registry_over_http_on_localhost(lab: SimLab) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    metrics = Metrics(None, lab.store, watch=True)
    metrics.serve(port)
    try:
        lab.apply(rc_doc("web", 1))
        metrics.record(lab.reconcile())
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        assert samples(body)[("orc_pods_desired", (("controller", "rc/web"),))] == 1
    finally:
        metrics.close()
    assert lab.store.get("_meta/metrics").value["passes"] == 1  # saved when the loop ends
