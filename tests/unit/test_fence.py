"""Host-side fencing: the fence step's text, the real script run by local shells (as the remote `sh -s` runs
it), and the executor putting the fence first and reporting a refusal (over the fake transport)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from orchestrator.act.executor import Runtime, execute, refused_hosts
from orchestrator.act.fence import (
    BUSY,
    REFUSED,
    STATE_ERROR,
    HostFence,
    HostFencedError,
    claim_hosts,
    fence_step,
    state_dir,
)
from orchestrator.commands.base import Command, sh
from orchestrator.errors import ConfigError
from orchestrator.inventory.host import Host
from orchestrator.model.pod import PodSpec
from orchestrator.plan.types import CreatePod, DeletePod, Plan, PodRun, UpdateHostsFile
from orchestrator.store import FencedError
from orchestrator.store.sqlite import SQLiteStore
from orchestrator.transport.base import BatchResult, StepResult
from orchestrator.transport.fake import FakeTransport
from orchestrator.transport.script import build_script, parse_output

SHELLS = [s for s in ("dash", "bash", "busybox") if shutil.which(s)]
SPEC = PodSpec.model_validate({"containers": [{"name": "app", "image": "img:1"}]})

EXPECTED = "\n".join([
    'orc_fence_dir=/var/lib/orc/orc-lab',
    'orc_fence_rc=0',
    'if ! command -v flock >/dev/null 2>&1; then',
    "  echo 'fence: flock is not installed on this host: install util-linux' >&2",
    '  orc_fence_rc=11',
    'elif ! mkdir -p -- "$orc_fence_dir" || ! command exec 9>>"$orc_fence_dir/fence.lock"; then',
    '  echo "fence: cannot open $orc_fence_dir/fence.lock: set orc_state_dir to a folder the SSH user may write" >&2',
    '  orc_fence_rc=12',
    'elif ! flock -w 30 9; then',
    '  echo "fence: another batch has held $orc_fence_dir/fence.lock for 30s" >&2',
    '  orc_fence_rc=13',
    'else',
    '  orc_fence_seen=$(cat -- "$orc_fence_dir/token" 2>/dev/null) || orc_fence_seen=0',
    '  case "$orc_fence_seen" in',
    "    '') orc_fence_seen=0 ;;",
    '    *[!0-9]*|???????????????????*)',
    '      echo "fence: $orc_fence_dir/token holds no token: remove it" >&2',
    '      orc_fence_rc=12 ;;',
    '  esac',
    '  if [ "$orc_fence_rc" -ne 0 ]; then',
    '    :',
    '  elif [ "$orc_fence_seen" -gt 1234 ]; then',
    '    printf \'%s %s\\n\' ORC-FENCE-REFUSED "$orc_fence_seen"',
    '    orc_fence_rc=10',
    '  elif [ "$orc_fence_seen" -lt 1234 ]; then',
    '    if ! { printf \'%s\\n\' 1234 >"$orc_fence_dir/token.new" && mv -f -- "$orc_fence_dir/token.new" "$orc_fence_dir/token"; }; then',
    '      echo "fence: cannot write $orc_fence_dir/token" >&2',
    '      orc_fence_rc=12',
    '    fi',
    '  fi',
    'fi',
    '(exit "$orc_fence_rc")',
])


def test_the_fence_step_text_exactly() -> None:
    step = fence_step("/var/lib/orc", "orc-lab", 1234)
    assert step.guard and step.name == "fence" and step.stdin is None
    assert step.render() == EXPECTED


def test_user_values_are_quoted_or_refused() -> None:
    step = fence_step("/srv/o'rc $(touch x)", "orc-lab", 5)
    assert step.render().startswith("orc_fence_dir='/srv/o'\"'\"'rc $(touch x)/orc-lab'\n")
    with pytest.raises(ConfigError, match="cluster name"):
        fence_step("/var/lib/orc", "a;rm -rf /", 5)
    with pytest.raises(ValueError, match="fencing token"):
        fence_step("/var/lib/orc", "orc-lab", -1)
    bad = Host("h1", "h1", vars={"orc_state_dir": "relative/dir"})
    with pytest.raises(ConfigError, match="host h1: orc_state_dir 'relative/dir' is invalid: use an absolute path"):
        state_dir(bad)
    assert state_dir(Host("h2", "h2")) == "/var/lib/orc"
    assert state_dir(Host("h3", "h3", vars={"orc_state_dir": "/srv/orc/"})) == "/srv/orc"


def _batch(shell: str, steps: list[Command]) -> BatchResult:
    script = build_script(steps)
    argv = [shell, "sh", "-s"] if shell == "busybox" else [shell, "-s"]
    proc = subprocess.run(argv, input=script.text.encode(), capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return parse_output(script, "local", proc.stdout, proc.stderr)


@pytest.mark.parametrize("shell", SHELLS)
def test_the_script_records_the_newest_token_and_refuses_older_ones(shell: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    after = sh("after", f"echo ran >> {marker}")
    first = _batch(shell, [fence_step(str(tmp_path), "c1", 7), after])
    assert first.ok and (tmp_path / "c1" / "token").read_text() == "7\n"
    assert _batch(shell, [fence_step(str(tmp_path), "c1", 7), after]).ok  # the same holder again
    newer = _batch(shell, [fence_step(str(tmp_path), "c1", 9), after])
    assert newer.ok and (tmp_path / "c1" / "token").read_text() == "9\n"
    assert marker.read_text() == "ran\nran\nran\n"

    stale = _batch(shell, [fence_step(str(tmp_path), "c1", 8), after, sh("later", "echo later")])
    gate, *rest = stale.steps
    assert gate.exit_code == REFUSED and gate.stdout == "ORC-FENCE-REFUSED 9\n"
    assert [s.exit_code for s in rest] == [None, None]  # nothing after the fence ran
    assert marker.read_text() == "ran\nran\nran\n" and (tmp_path / "c1" / "token").read_text() == "9\n"

    other = _batch(shell, [fence_step(str(tmp_path), "c2", 1), after])  # another cluster: its own token
    assert other.ok and (tmp_path / "c2" / "token").read_text() == "1\n"


@pytest.mark.parametrize("shell", SHELLS)
def test_the_host_lock_is_held_for_the_whole_batch_and_closed_in_steps(shell: str, tmp_path: Path) -> None:
    lock = tmp_path / "c1" / "fence.lock"
    result = _batch(shell, [
        fence_step(str(tmp_path), "c1", 3),
        sh("first", f"flock -n {lock} true && echo free || echo held"),
        sh("stdin", "cat", stdin=b"data"),
        sh("last", f"flock -n {lock} true && echo free || echo held; readlink /proc/self/fd/9 || echo closed"),
    ])
    assert result.ok, result
    assert result["first"].stdout == "held\n" and result["stdin"].stdout == "data"
    assert result["last"].stdout == "held\nclosed\n"  # a daemon a step starts never inherits the lock
    assert subprocess.run(["flock", "-n", str(lock), "true"]).returncode == 0  # released with the batch


def test_a_second_batch_waits_for_the_host_lock(tmp_path: Path) -> None:
    (tmp_path / "c1").mkdir()
    lock = tmp_path / "c1" / "fence.lock"
    holder = subprocess.Popen(["flock", str(lock), "sh", "-c", "echo locked; read x"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
        step = fence_step(str(tmp_path), "c1", 3)
        short = Command(step.name, shell=step.render().replace("flock -w 30 9", "flock -w 0.2 9"), guard=True)
        busy = _batch("sh", [short, sh("after", "echo ran")])
        assert busy.steps[0].exit_code == BUSY and "another batch has held" in busy.steps[0].stderr
        assert busy.steps[1].exit_code is None
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(10)


def test_a_garbled_token_file_stops_the_batch(tmp_path: Path) -> None:
    (tmp_path / "c1").mkdir()
    (tmp_path / "c1" / "token").write_text("12x\n")
    result = _batch("sh", [fence_step(str(tmp_path), "c1", 3), sh("after", "echo ran")])
    assert result.steps[0].exit_code == STATE_ERROR and "holds no token: remove it" in result.steps[0].stderr
    assert result.steps[1].exit_code is None


def test_an_unwritable_state_folder_stops_the_batch(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    result = _batch("sh", [fence_step(str(tmp_path / "file"), "c1", 3), sh("after", "echo ran")])
    assert result.steps[0].exit_code == STATE_ERROR and "set orc_state_dir" in result.steps[0].stderr
    assert result.steps[1].exit_code is None


# -- the executor -------------------------------------------------------------------------------------

HOSTS = [Host(name=n, address=n, vars={"orc_state_dir": "/srv/orc"}) for n in ("a", "b")]


def _run(name: str) -> PodRun:
    return PodRun(name=name, uid=f"uid-{name}", owner="rc/web", labels={"app": "web"}, spec=SPEC, spec_hash="h")


@pytest.fixture
def lease(tmp_path: Path):  # type: ignore[no-untyped-def]
    with SQLiteStore(tmp_path / "state.db").lock("reconcile", ttl=30) as lk:
        yield lk


def test_the_executor_opens_every_batch_with_the_fence(lease) -> None:  # type: ignore[no-untyped-def]
    t = FakeTransport()
    plan = Plan(actions=[CreatePod("a", _run("web-1"), "r"), DeletePod("b", "web-2", "uid-2", "r"),
                         UpdateHostsFile("a", "/srv/hosts", "10.0.0.1 web\n")])
    results = execute(plan, HOSTS, t, Runtime("pause:3.9", cluster="c1"), host_fence=HostFence("c1", lease))
    assert len(t.batches) == 2
    for b in t.batches:
        assert b.names[0] == "fence" and b.steps[0].guard
        assert b.steps[0].render() == fence_step("/srv/orc", "c1", lease.token).render()
    (on_a,) = t.batches_for("a")
    assert len(on_a.names) == 3 and on_a.names[2] == "create pod/web-1"
    assert all(r.ok for r in results) and "fence" not in [r.step for r in results]  # an accepted fence is quiet
    assert refused_hosts(results) == {}


def test_a_refusing_host_runs_nothing_and_names_both_tokens(lease) -> None:  # type: ignore[no-untyped-def]
    t = FakeTransport()
    newer = lease.token + 5
    t.reply("a", "fence", exit_code=REFUSED, stdout=f"ORC-FENCE-REFUSED {newer}\n")
    plan = Plan(actions=[CreatePod("a", _run("web-1"), "r"), CreatePod("b", _run("web-2"), "r"),
                         UpdateHostsFile("a", "/srv/hosts", "10.0.0.1 web\n")])
    fence = HostFence("c1", lease)
    results = execute(plan, HOSTS, t, Runtime("pause:3.9", cluster="c1"), host_fence=fence)
    on_a = [r for r in results if r.host == "a"]
    assert [(r.step.split()[0], r.ok) for r in on_a] == [("fence", False), ("proxy-hosts", False),
                                                        ("create", False)]
    assert on_a[0].error == (
        f"a refused this controller's batch: the host has seen fencing token {newer} of cluster c1, newer than "
        f"this controller's {lease.token}: another controller took over the lease (lock \"reconcile\") and acts "
        "now; this one stops (nothing ran on a)")
    assert on_a[1].error == on_a[2].error == "not run: the fence on a stopped the batch"
    assert [r.ok for r in results if r.host == "b"] == [True]
    assert refused_hosts(results) == {"a": newer}
    err = fence.refused(refused_hosts(results))
    assert isinstance(err, HostFencedError) and isinstance(err, FencedError) and err.exit_code == 1
    assert f"with fencing token {lease.token} of cluster c1: a (has seen {newer})" in str(err)


def test_the_executor_sends_nothing_once_the_lease_is_lost(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    mine = SQLiteStore(db).lock("reconcile", ttl=30).acquire()
    store = SQLiteStore(db)
    with store._txn("IMMEDIATE") as c:  # as a takeover after the ttl does it
        c.execute("UPDATE locks SET token = token + 1, expires = 0 WHERE name = 'reconcile'")
    t = FakeTransport()
    with pytest.raises(FencedError, match="lease refresh refused"):
        execute(Plan(actions=[CreatePod("a", _run("web-1"), "r")]), HOSTS, t, Runtime("pause:3.9", cluster="c1"),
                host_fence=HostFence("c1", mine))
    assert t.batches == []
    mine.release()


def test_a_host_with_a_bad_state_dir_runs_nothing(lease) -> None:  # type: ignore[no-untyped-def]
    t = FakeTransport()
    hosts = [Host("a", "a", vars={"orc_state_dir": "nope"}), HOSTS[1]]
    plan = Plan(actions=[CreatePod("a", _run("web-1"), "r"), CreatePod("b", _run("web-2"), "r")])
    results = execute(plan, hosts, t, Runtime("pause:3.9", cluster="c1"), host_fence=HostFence("c1", lease))
    assert [b.host for b in t.batches] == ["b"]
    bad = [r for r in results if r.host == "a"]
    assert [r.ok for r in bad] == [False, False] and "orc_state_dir 'nope' is invalid" in bad[0].error
    assert refused_hosts(results) == {}


def test_the_fake_transport_skips_what_follows_a_failed_guard() -> None:
    t = FakeTransport()
    t.reply("*", "g", exit_code=1)
    guard = Command("g", shell="false", guard=True)
    result = t.run_batch(HOSTS[0], [guard, sh("x", "true")])
    assert [s.exit_code for s in result.steps] == [1, None]
    assert StepResult("x", None) in result.steps
    with pytest.raises(ValueError, match="guard step must come before"):
        build_script([sh("x", "true"), guard])


def test_a_refusal_in_the_first_round_sends_no_drain_round(lease) -> None:  # type: ignore[no-untyped-def]
    t = FakeTransport()
    t.reply("a", "fence", exit_code=REFUSED, stdout=f"ORC-FENCE-REFUSED {lease.token + 1}\n")
    plan = Plan(actions=[CreatePod("a", _run("web-1"), "r"), DeletePod("b", "web-2", "uid-2", "drained")],
                drain=frozenset({"uid-2"}))
    results = execute(plan, HOSTS, t, Runtime("pause:3.9", cluster="c1"), host_fence=HostFence("c1", lease))
    assert [b.host for b in t.batches] == ["a"]  # b's drained delete never went out
    (drained,) = [r for r in results if r.host == "b"]
    assert not drained.ok and "lease is stale" in drained.error


def test_a_leader_taking_over_claims_every_host_at_once(lease) -> None:  # type: ignore[no-untyped-def]
    hosts = [*HOSTS, Host(name="c", address="c", vars={"orc_state_dir": "/srv/orc"})]
    t = FakeTransport()
    t.set_unreachable("c")
    failed = claim_hosts(HostFence("c1", lease), hosts, t, max_workers=4)
    assert sorted(b.host for b in t.batches) == ["a", "b"]  # one round trip each, nothing but the fence
    assert all(b.names == ("fence",) for b in t.batches)
    assert list(failed) == ["c"]  # unreachable: fenced by its first batch
    t.reply("b", "fence", exit_code=REFUSED, stdout=f"ORC-FENCE-REFUSED {lease.token + 1}\n")
    with pytest.raises(HostFencedError, match=r"b \(has seen"):
        claim_hosts(HostFence("c1", lease), HOSTS, t, max_workers=4)
