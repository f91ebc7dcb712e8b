"""Deploying HAProxy on a host: the exact commands, nothing at all when nothing changed, and the scripts run
for real (locally, through the same batch script the SSH transport sends) to show that a rejected config
leaves the live one untouched, the hosts file keeps its inode, and a second pass finds nothing to do."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from orchestrator.commands.base import Command
from orchestrator.commands.haproxy import deploy_steps
from orchestrator.errors import ConfigError
from orchestrator.inventory.host import Host
from orchestrator.proxy.hostvars import HAProxyHost, proxy_hosts
from orchestrator.proxy.state import ProxyState, digest, parse_state, probe_step
from orchestrator.transport.base import BatchResult, StepResult
from orchestrator.transport.script import build_script, parse_output

HAPROXY = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
LAB = "/var/lib/orc-lab/lab/hosts/lab1/haproxy"
LAB_HOST = Host(
    "lab1",
    "10.99.0.11",
    vars={
        "haproxy_mode": "master-worker",
        "haproxy_config": f"{LAB}/haproxy.cfg",
        "haproxy_pidfile": f"{LAB}/haproxy.pid",
        "haproxy_socket": f"{LAB}/admin.sock",
        "orc_hosts_file": "/var/lib/orc-lab/lab/hosts/lab1/hosts",
    },
)
CFG = "global\n    master-worker\n"
HOSTS = "127.0.0.1 localhost\n10.233.0.2 web\n"
SAME = ProxyState(
    config_hash=digest(CFG), pid=42, addresses=frozenset({"10.233.0.2"}), hosts_hash=digest(HOSTS)
)


def test_nothing_when_config_addresses_and_hosts_file_are_unchanged_and_haproxy_runs() -> None:
    assert deploy_steps(LAB_HOST, CFG, SAME, {"10.233.0.2"}, HOSTS, cluster="c1") == []


def test_exact_commands_for_a_changed_config_and_addresses() -> None:
    state = ProxyState(
        config_hash=digest("old"),
        pid=42,
        addresses=frozenset({"10.233.0.2", "10.233.0.9"}),
        hosts_hash=digest(HOSTS),
    )
    [step] = deploy_steps(LAB_HOST, CFG, state, {"10.233.0.2", "10.233.0.3"}, HOSTS, cluster="c1")
    assert step.name == "proxy"
    assert step.stdin == CFG.encode()
    assert (
        step.render()
        == f"""rc=0
ip addr replace 10.233.0.3/32 dev lo label lo:orc-d0f631ca || {{ echo 'cannot add service address 10.233.0.3 to lo' >&2; exit 1; }}
mkdir -p {LAB} || exit 1
tmp=$(mktemp {LAB}/.orc-haproxy.XXXXXX) || exit 1
cat > "$tmp" || {{ rm -f "$tmp"; exit 1; }}
if ! out=$(haproxy -c -f "$tmp" 2>&1); then
  printf '%s\\n' "$out" >&2
  echo 'haproxy rejected the new config; the live {LAB}/haproxy.cfg was left untouched' >&2
  rm -f "$tmp"; exit 1
fi
chmod 0644 "$tmp" && mv -f "$tmp" {LAB}/haproxy.cfg || {{ rm -f "$tmp"; exit 1; }}
if pid=$(head -n 1 {LAB}/haproxy.pid 2>/dev/null); [ -n "$pid" ] && grep -qx haproxy "/proc/$pid/comm" 2>/dev/null && read -r _ _ st _ < "/proc/$pid/stat" 2>/dev/null && [ "$st" != Z ] && [ "$st" != X ]; then
  kill -USR2 "$pid" || exit 1; echo reloaded
else
  haproxy -W -D -f {LAB}/haproxy.cfg -p {LAB}/haproxy.pid </dev/null >/dev/null || exit 1; echo started
fi
ip addr del 10.233.0.9/32 dev lo label lo:orc-d0f631ca || rc=1
exit $rc"""
    )


def test_only_the_hosts_file_when_only_it_changed() -> None:
    [step] = deploy_steps(LAB_HOST, CFG, SAME, {"10.233.0.2"}, HOSTS + "10.233.0.3 db\n", cluster="c1")
    assert step.name == "proxy-hosts"
    assert step.stdin == (HOSTS + "10.233.0.3 db\n").encode()
    path = "/var/lib/orc-lab/lab/hosts/lab1/hosts"
    assert (
        step.render()
        == f"""mkdir -p "$(dirname {path})" || exit 1
tmp=$(mktemp /var/lib/orc-lab/lab/hosts/lab1/.orc-hosts.XXXXXX) || exit 1
cat > "$tmp" || {{ rm -f "$tmp"; exit 1; }}
if [ -f {path} ]; then cat "$tmp" > {path}; rc=$?; rm -f "$tmp"; exit $rc; fi
chmod 0644 "$tmp" && mv -f "$tmp" {path}"""
    )


def test_stopped_haproxy_with_the_same_config_is_started_without_an_upload() -> None:
    stopped = ProxyState(
        config_hash=digest(CFG), pid=None, addresses=SAME.addresses, hosts_hash=digest(HOSTS)
    )
    [step] = deploy_steps(LAB_HOST, CFG, stopped, {"10.233.0.2"}, HOSTS, cluster="c1")
    assert step.stdin is None
    assert "mktemp" not in step.render() and "kill -USR2" not in step.render()
    assert (
        f"  haproxy -W -D -f {LAB}/haproxy.cfg -p {LAB}/haproxy.pid </dev/null >/dev/null || exit 1"
        in step.render()
    )


def test_debian_defaults_and_host_var_overrides_are_quoted_argv() -> None:
    debian = Host("web1", "web1")
    [_, step] = deploy_steps(debian, CFG, ProxyState(), set(), HOSTS, cluster="c1")
    text = step.render()
    assert "tmp=$(mktemp /etc/haproxy/.orc-haproxy.XXXXXX)" in text
    assert "  systemctl reload haproxy || exit 1; echo reloaded" in text
    assert "  systemctl start haproxy </dev/null >/dev/null || exit 1; echo started" in text
    odd = Host(
        "x",
        "x",
        vars={
            "haproxy_config": "/srv/my proxy/h.cfg",
            "haproxy_reload": "reload-it '$(reboot)'",
            "haproxy_check": ["docker", "exec", "hap", "haproxy", "-c", "-f"],
        },
    )
    [_, step] = deploy_steps(odd, CFG, ProxyState(), set(), HOSTS, cluster="c1")
    text = step.render()
    assert "mv -f \"$tmp\" '/srv/my proxy/h.cfg'" in text
    assert "  reload-it '$(reboot)' || exit 1; echo reloaded" in text
    assert 'if ! out=$(docker exec hap haproxy -c -f "$tmp" 2>&1); then' in text


def test_bad_host_vars_are_config_errors_naming_host_and_var() -> None:
    with pytest.raises(
        ConfigError, match="host x: haproxy_config 'relative.cfg' is invalid: use an absolute path"
    ):
        HAProxyHost.of(Host("x", "x", vars={"haproxy_config": "relative.cfg"}))
    with pytest.raises(ConfigError, match="host x: haproxy_mode 'k8s' is invalid"):
        HAProxyHost.of(Host("x", "x", vars={"haproxy_mode": "k8s"}))


def test_proxy_hosts_every_host_or_the_group() -> None:
    from orchestrator.config import ProxySettings

    a, b = Host("a", "a", groups=("web",)), Host("b", "b", groups=("proxies", "web"))
    assert proxy_hosts([a, b], ProxySettings()) == [a, b]
    assert proxy_hosts([a, b], ProxySettings(group="proxies")) == [b]


def test_parse_state() -> None:
    out = ("config=abc  -\nconfig-mark=# orc cluster=c1 node-ports=30080,30081\nhosts=def  -\nhosts-mark=127.0.0.1 x\n"
           "pid=123\n"  # as sha256sum, `ip -o` and the /proc/net/tcp loop print them
           "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n"
           "1: lo    inet 10.233.0.2/32 scope global lo:orc-d0f631ca\\       valid_lft forever preferred_lft forever\n"
           "1: lo    inet 10.233.0.3/32 scope global lo:orc-d0f631ca\\       valid_lft forever preferred_lft forever\n"
           "1: lo    inet 10.233.0.4/32 scope global lo:orc-49f75646\\       valid_lft forever preferred_lft forever\n"
           "listen=7580\nlisten=0016\nlisten=zz\n")
    assert parse_state(StepResult("proxy-state", 0, out), "c1") == ProxyState(
        "abc", 123, frozenset({"10.233.0.2", "10.233.0.3"}), "def", config_owner="c1",
        owned_ports=frozenset({30080, 30081}), hosts_owner="",
        others={"127.0.0.1": "lo", "10.233.0.4": "lo:orc-49f75646"}, listening=frozenset({30080, 22}))
    assert parse_state(StepResult("proxy-state", 0, out), "other").config_owner == "c1"  # not other's
    assert parse_state(StepResult("proxy-state", 0, ""), "c1") == ProxyState()
    assert parse_state(StepResult("proxy-state", None), "c1").error == "proxy state probe failed: did not run"


# -- the scripts, run for real on this machine (no `ip` command runs: addresses are left as they are) --------


def run(steps: Sequence[Command]) -> BatchResult:
    script = build_script(steps)
    done = subprocess.run(["sh", "-s"], input=script.text.encode(), capture_output=True, timeout=30)
    return parse_output(script, "local", done.stdout, done.stderr)


@pytest.fixture
def local(tmp_path: Path) -> Host:
    assert HAPROXY is not None
    return Host(
        "local",
        "127.0.0.1",
        vars={
            "haproxy_mode": "master-worker",
            "haproxy_config": str(tmp_path / "cfg" / "haproxy.cfg"),
            "haproxy_pidfile": str(tmp_path / "run" / "haproxy.pid"),
            "haproxy_socket": str(tmp_path / "run" / "s"),
            "orc_hosts_file": str(tmp_path / "hosts"),
            "haproxy_check": [HAPROXY, "-c", "-f"],
            "haproxy_start": "true",
            "haproxy_reload": "true",
        },
    )


@pytest.fixture
def fake_haproxy(tmp_path: Path, local: Host) -> Iterator[int]:
    """A process whose name is `haproxy`, its pid in the host's pidfile: HAProxy "runs"."""
    exe = tmp_path / "haproxy"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", exe)
    proc = subprocess.Popen([str(exe), "60"])
    pidfile = Path(local.vars["haproxy_pidfile"])
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    pidfile.write_text(f"{proc.pid}\n")
    yield proc.pid
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


VALID = "global\n    stats socket /run/orc-test/admin.sock mode 600 level admin\n\ndefaults\n    mode tcp\n    timeout connect 1s\n"


@pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed")
def test_deploy_then_probe_finds_nothing_to_do(local: Host, fake_haproxy: int) -> None:
    state = parse_state(run([probe_step(local, "c1")]).steps[0], "c1")
    assert state.pid == fake_haproxy and state.config_hash is None and state.hosts_hash is None
    result = run(deploy_steps(local, VALID, state, set(state.addresses), HOSTS, cluster="c1"))
    assert [(s.name, s.exit_code, s.stdout) for s in result.steps] == [
        ("proxy-hosts", 0, ""),
        ("proxy", 0, "reloaded\n"),
    ]
    assert Path(local.vars["haproxy_config"]).read_text() == VALID
    again = parse_state(run([probe_step(local, "c1")]).steps[0], "c1")
    assert again.config_hash == digest(VALID) and again.hosts_hash == digest(HOSTS)
    assert deploy_steps(local, VALID, again, set(again.addresses), HOSTS, cluster="c1") == []


@pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed")
def test_rejected_config_leaves_the_live_one_untouched_with_haproxys_message(
    local: Host, fake_haproxy: int
) -> None:
    live = Path(local.vars["haproxy_config"])
    live.parent.mkdir(parents=True)
    live.write_text(VALID)
    state = parse_state(run([probe_step(local, "c1")]).steps[0], "c1")
    [step] = deploy_steps(local, "global\n    no-such-keyword 1\n", state, set(state.addresses), HOSTS,
                          cluster="c1")[1:]
    result = run([step]).steps[0]
    assert result.exit_code == 1
    assert "no-such-keyword" in result.stderr and "[ALERT]" in result.stderr
    assert f"haproxy rejected the new config; the live {live} was left untouched" in result.stderr
    assert "reloaded" not in result.stdout
    assert live.read_text() == VALID
    # no temp file left behind; the config orc did not write is kept, once, beside the live one
    assert sorted(p.name for p in live.parent.iterdir()) == ["haproxy.cfg", "haproxy.cfg.orc-backup"]
    assert (live.parent / "haproxy.cfg.orc-backup").read_text() == VALID


def test_hosts_file_is_rewritten_in_place(local: Host) -> None:
    hosts = Path(local.vars["orc_hosts_file"])
    hosts.write_text("old\n")
    inode = hosts.stat().st_ino
    [step] = [s for s in deploy_steps(local, CFG, ProxyState(), set(), HOSTS, cluster="c1")
              if s.name == "proxy-hosts"]
    assert run([step]).steps[0].exit_code == 0
    assert hosts.read_text() == HOSTS
    assert hosts.stat().st_ino == inode
    assert sorted(p.name for p in hosts.parent.iterdir() if p.name.startswith(".orc")) == []


def test_a_host_with_no_haproxy_to_run_reads_only_its_files_unless_a_config_is_there(
        local: Host, fake_haproxy: int) -> None:
    """Not serving (outside proxy.group, or no service): the pid, lo's addresses and the listeners are read
    only where a config file is (one to empty, or another cluster's)."""
    full = parse_state(run([probe_step(local, "c1", serving=True)]).steps[0], "c1")
    assert full.pid == fake_haproxy and full.running and "127.0.0.1" in full.others
    light = parse_state(run([probe_step(local, "c1", serving=False)]).steps[0], "c1")
    assert light.pid is None and not light.others and light.config_hash is None
    live = Path(local.vars["haproxy_config"])
    live.parent.mkdir(parents=True, exist_ok=True)
    live.write_text(VALID)
    there = parse_state(run([probe_step(local, "c1", serving=False)]).steps[0], "c1")
    assert there.pid == fake_haproxy and there.config_hash == digest(VALID) and "127.0.0.1" in there.others
