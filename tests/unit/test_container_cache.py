"""The probe's cache of inspected containers (observe/container_cache.py): which containers a light probe
inspects again, pure, and the light step's shell run for real against a stand-in `docker`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from orchestrator.observe.container_cache import (
    PsRow,
    consistent,
    duration_range,
    info_from_dict,
    info_to_dict,
    known_keys,
    merge,
    parse_ps,
    ps_key,
)
from orchestrator.observe.facts import ContainerInfo
from orchestrator.observe.probe import containers_step
from tests.harness.docker import human_duration, iso

T0 = 1_800_000_000.0
A, B, C = "a" * 64, "b" * 64, "c" * 64


def info(cid: str, state: str = "running", started: float = T0, finished: float | None = None,
         restarts: int = 0, health: str | None = None, code: int = 0) -> ContainerInfo:
    return ContainerInfo(id=cid, name=f"orc_{cid[:3]}", image="nginx", state=state, exit_code=code,
                         started_at=iso(started), finished_at=iso(finished) if finished else "0001-01-01T00:00:00Z",
                         restart_count=restarts, health=health, labels={"orc.managed": "true"},
                         ports={"80/tcp": 30001}, ip="172.17.0.2", created_at=iso(T0 - 5))


def cache_of(*entries: tuple[ContainerInfo, PsRow]) -> dict:
    return {c.id: {"key": row.key, "info": info_to_dict(c)} for c, row in entries}


@pytest.mark.parametrize(("status", "key"), [
    ("Up 5 minutes", "Up"),
    ("Up 2 hours (healthy)", "Up (healthy)"),
    ("Up Less than a second (health: starting)", "Up (health: starting)"),
    ("Up 3 days (unhealthy)", "Up (unhealthy)"),
    ("Up 3 days (Paused)", "Up (Paused)"),
    ("Exited (137) 5 minutes ago", "Exited (137)"),
    ("Restarting (1) 2 seconds ago", "Restarting (1)"),
    ("Created", "Created"),
    ("Dead", "Dead"),
    ("Removal In Progress", "Removal In Progress"),
])
def test_the_key_keeps_state_exit_code_and_health_and_drops_the_durations(status: str, key: str) -> None:
    assert ps_key(status) == key


def test_every_duration_docker_prints_falls_in_the_range_read_back_from_it() -> None:
    for seconds in [0, 0.5, 1, 1.5, 2, 59, 60, 61, 119, 120, 3599, 3600, 5399, 5400, 7000, 86_000, 172_799,
                    172_800, 1_000_000, 1_209_599, 1_209_600, 5_000_000, 62_000_000, 63_072_000, 100_000_000]:
        lo, hi = duration_range(human_duration(seconds)) or (None, None)
        assert lo is not None and hi is not None and lo <= seconds < hi, (seconds, human_duration(seconds), lo, hi)
    assert duration_range("5 fortnights") is None


def test_a_no_op_listing_takes_every_container_from_the_cache() -> None:
    rows = [PsRow(A, "Up 2 hours (healthy)"), PsRow(B, "Exited (0) 2 hours ago")]
    a, b = info(A, health="healthy"), info(B, "exited", finished=T0 + 1)
    m = merge(rows, [], cache_of((a, rows[0]), (b, rows[1])), host_now=T0 + 7200)
    assert m.containers == (a, b) and m.missing == ()
    assert m.cache == cache_of((a, rows[0]), (b, rows[1]))


def test_a_new_container_a_changed_state_or_health_is_not_taken_from_the_cache() -> None:
    a, b = info(A, health="healthy"), info(B)
    cache = cache_of((a, PsRow(A, "Up 2 hours (healthy)")), (b, PsRow(B, "Up 2 hours")))
    rows = [PsRow(A, "Up 2 hours (unhealthy)"), PsRow(B, "Exited (1) 1 second ago"),
            PsRow(C, "Created")]
    m = merge(rows, [], cache, host_now=T0 + 7200)
    assert m.containers == () and m.missing == (A, B, C)
    fresh = [info(A, health="unhealthy"), info(B, "exited", finished=T0 + 7199, code=1), info(C, "created")]
    m = merge(rows, fresh, cache, host_now=T0 + 7200)
    assert m.containers == tuple(fresh) and m.missing == ()
    assert {k: v["key"] for k, v in m.cache.items()} == {A: "Up (unhealthy)", B: "Exited (1)", C: "Created"}


def test_a_restart_by_docker_with_the_same_state_is_seen_by_its_uptime() -> None:
    """Docker restarted the container (restart policy): still "running", but up 30 s where the cached start
    was two hours ago: inspected again (its RestartCount and StartedAt changed)."""
    a = info(A)
    cache = cache_of((a, PsRow(A, "Up 2 hours")))
    assert merge([PsRow(A, "Up 30 seconds")], [], cache, host_now=T0 + 7200).missing == (A,)
    assert merge([PsRow(A, "Up 2 hours")], [], cache, host_now=T0 + 7200).missing == ()
    # an exited container that ran and exited again: its "ago" does not fit the cached FinishedAt
    b = info(B, "exited", finished=T0)
    cache = cache_of((b, PsRow(B, "Exited (0) 2 hours ago")))
    assert merge([PsRow(B, "Exited (0) 3 minutes ago")], [], cache, host_now=T0 + 7200).missing == (B,)


def test_the_uptime_check_allows_for_the_clock_reading_and_needs_the_hosts_time() -> None:
    a = info(A)
    assert consistent(PsRow(A, "Up 59 seconds"), a, T0 + 60.5)  # within the tolerance
    assert not consistent(PsRow(A, "Up 10 seconds"), a, T0 + 60)
    assert consistent(PsRow(A, "Up 10 seconds"), a, None)  # no host time: the key decides
    # a duration shown but no start time cached to check it against: inspect again
    assert not consistent(PsRow(A, "Up 10 seconds"), ContainerInfo(**{**info_to_dict(a), "started_at": ""}), T0)


def test_containers_gone_leave_the_cache_and_a_broken_entry_is_inspected() -> None:
    a, b = info(A), info(B)
    rows = [PsRow(A, "Up 2 hours"), PsRow(B, "Up 2 hours")]
    cache = cache_of((a, rows[0]), (b, rows[1]))
    m = merge(rows[:1], [], cache, host_now=T0 + 7200)
    assert set(m.cache) == {A}
    broken = {A: {"key": rows[0].key, "info": {"id": A}}}
    assert merge(rows[:1], [], broken, host_now=T0 + 7200).missing == (A,)
    assert info_from_dict(info_to_dict(a)) == a


def test_parse_ps_reads_the_hosts_time_and_rows() -> None:
    now, rows = parse_ps(f"now=1800000000\nps {A} Up 2 hours (healthy)\nps {B} Created\n{{\"Id\": 1}}\n")
    assert now == 1_800_000_000 and rows == [PsRow(A, "Up 2 hours (healthy)"), PsRow(B, "Created")]


STATUSES = [(A, "Up 2 hours (healthy)"), (B, "Exited (137) 5 minutes ago"), (C, "Created"),
            ("d" * 64, "Restarting (1) 2 seconds ago"), ("e" * 64, "Up About a minute"),
            ("f" * 64, "Up 3 days (health: starting)"), ("0" * 64, "Up 2 hours (Paused)")]


def _run_step(tmp_path: Path, known: str) -> str:
    """The light step's real shell, with a `docker` on PATH that lists STATUSES and echoes what it is
    asked to inspect."""
    fake = tmp_path / "docker"
    listing = "".join(f"ps {i} {st}\n" for i, st in STATUSES)
    fake.write_text("#!/bin/sh\nif [ \"$1\" = ps ]; then printf '%s' '" + listing + "'; exit 0; fi\n"
                    "shift 3; for i in \"$@\"; do echo \"{\\\"Id\\\": \\\"$i\\\"}\"; done\n")
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    return subprocess.run(["sh", "-c", containers_step(known).render()], capture_output=True, text=True,
                          env=env, timeout=30, check=True).stdout


def test_the_light_steps_shell_inspects_exactly_what_the_cache_lacks(tmp_path: Path) -> None:
    every = _run_step(tmp_path, "")
    assert [line for line in every.splitlines() if line.startswith("{")] == [f'{{"Id": "{i}"}}' for i, _ in STATUSES]
    _, rows = parse_ps(every)
    assert [(r.id, r.status) for r in rows] == STATUSES
    # the shell's key is ps_key's: a cache of every row inspects nothing; one changed key inspects that one
    cache = {r.id: {"key": r.key, "info": {}} for r in rows}
    assert [line for line in _run_step(tmp_path, known_keys(cache)).splitlines() if line.startswith("{")] == []
    cache[B] = {"key": "Exited (0)", "info": {}}
    assert [line for line in _run_step(tmp_path, known_keys(cache)).splitlines() if line.startswith("{")] == \
        [f'{{"Id": "{B}"}}']
