"""FakeTransport: records what other layers send and replies as configured, with the real counters."""

from __future__ import annotations

import pytest

from orchestrator.commands.base import cmd, sh
from orchestrator.errors import AuthFailed, HostKeyError, HostUnreachable
from orchestrator.inventory.host import Host
from orchestrator.transport.base import StepResult, Transport
from orchestrator.transport.fake import FakeTransport

N1 = Host(name="node1", address="10.0.0.1")
N2 = Host(name="node2", address="10.0.0.2")


def test_records_rendered_commands_per_host_and_counts_round_trips() -> None:
    fake = FakeTransport()
    fake.run_batch(N1, [cmd("ps", "docker", "ps", "--filter", "label=orc.managed"), sh("up", "uptime")])
    fake.run_batch(N1, [cmd("x", "echo", "a b")])
    fake.run_batch(N2, [cmd("y", "true")])
    assert fake.commands_for("node1") == ["docker ps --filter label=orc.managed", "uptime", "echo 'a b'"]
    assert fake.batches_for("node2")[0].names == ("y",)
    assert fake.counters.exec_channels == 3
    assert fake.counters.per_host_exec == {"node1": 2, "node2": 1}
    assert fake.counters.connects == 2


def test_replies_from_the_table_with_host_wildcard_and_default() -> None:
    fake = FakeTransport()
    fake.reply("node1", "ps", stdout="c1\n")
    fake.reply("*", "ps", exit_code=1, stderr="no docker")
    r1 = fake.run_batch(N1, [cmd("ps", "docker", "ps"), cmd("other", "true")])
    r2 = fake.run_batch(N2, [cmd("ps", "docker", "ps")])
    assert r1["ps"] == StepResult("ps", 0, "c1\n", "")
    assert r1["other"] == StepResult("other", 0, "", "")
    assert r2["ps"] == StepResult("ps", 1, "", "no docker")


def test_responder_first_then_table() -> None:
    def responder(host: Host, step):  # type: ignore[no-untyped-def]
        return StepResult("ignored", 0, host.address) if step.name == "addr" else None

    fake = FakeTransport(responder=responder, table={("node1", "t"): StepResult("t", 7)})
    result = fake.run_batch(N1, [cmd("addr", "hostname", "-I"), cmd("t", "true")])
    assert result["addr"] == StepResult("addr", 0, "10.0.0.1", "")
    assert result["t"].exit_code == 7


def test_stop_on_error_skips_the_rest_like_the_real_script() -> None:
    fake = FakeTransport()
    fake.reply("*", "b", exit_code=2)
    result = fake.run_batch(N1, [cmd("a", "true"), cmd("b", "false"), cmd("c", "true")], stop_on_error=True)
    assert [s.exit_code for s in result.steps] == [0, 2, None]
    assert not result.ok


@pytest.mark.parametrize(
    ("reason", "cls"), [("timeout", HostUnreachable), ("hostkey", HostKeyError), ("auth", AuthFailed)]
)
def test_unreachable_hosts_raise_with_the_reason_and_record_nothing(reason: str, cls: type) -> None:
    fake = FakeTransport()
    fake.set_unreachable("node2", reason)
    with pytest.raises(cls) as info:
        fake.run_batch(N2, [cmd("a", "true")])
    assert info.value.reason == reason and info.value.host == "node2"
    assert fake.batches == [] and fake.counters.exec_channels == 0
    fake.set_reachable("node2")
    assert fake.run_batch(N2, [cmd("a", "true")]).ok


def test_an_unknown_reason_is_refused() -> None:
    with pytest.raises(ValueError, match="not one of"):
        FakeTransport().set_unreachable("node1", "gone")


def test_put_file_and_stream() -> None:
    fake = FakeTransport()
    fake.put_file(N1, "/etc/haproxy/haproxy.cfg", b"global\n", mode=0o640)
    assert fake.files[("node1", "/etc/haproxy/haproxy.cfg")].data == b"global\n"
    assert fake.files[("node1", "/etc/haproxy/haproxy.cfg")].mode == 0o640
    fake.set_stream("*", "events", ["e1", "e2"])
    assert list(fake.stream(N1, cmd("events", "docker", "events"))) == ["e1", "e2"]
    assert fake.counters.files_put == 1


def test_satisfies_the_transport_protocol() -> None:
    transport: Transport = FakeTransport()
    assert transport.run_batch(N1, []).steps == ()
    transport.close()
