"""Multi-vantage failure detection: when the controller cannot reach a host, up to three hosts it can reach
try that host's SSH port themselves (one round trip each, in parallel, only when some host failed).

    down       no peer reaches it either: the host (or its network) is gone; replaced after the grace period
    partition  a peer reaches it: only the controller's path is at fault; its pods are kept, nothing replaced
    unchecked  no ready peer could try (or none had bash or nc): treated as down, as without peers

The probe from a peer is a TCP connect to the host's SSH port: bash's /dev/tcp, else `nc -z`, within 2 s."""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Mapping, Sequence

from orchestrator.commands.base import Command, sh
from orchestrator.errors import HostUnreachable, TransportError
from orchestrator.inventory.host import Host
from orchestrator.observe.facts import HostFacts
from orchestrator.transport.base import StepResult, Transport
from orchestrator.transport.parallel import run_parallel

STEP_NAME = "peer-check"
PEERS = 3
DOWN, PARTITION, UNCHECKED = "down", "partition", "unchecked"


def check_step(targets: Sequence[tuple[str, str, int]]) -> Command:
    """One step trying every (name, address, port) at once; prints `peer NAME ok|fail|unknown` each."""
    lines = [
        "orc_reach() {",
        "  if command -v bash >/dev/null 2>&1; then timeout 2 bash -c 'exec 3<>\"/dev/tcp/$1/$2\"' _ \"$1\" \"$2\""
        " >/dev/null 2>&1",
        '  elif command -v nc >/dev/null 2>&1; then nc -z -w 2 "$1" "$2" >/dev/null 2>&1',
        "  else return 2; fi",
        "}",
    ]
    for name, address, port in targets:
        n, a = shlex.quote(name), shlex.quote(address)
        lines.append(f"( orc_reach {a} {int(port)}; rc=$?; if [ $rc = 0 ]; then echo peer {n} ok; "
                     f"elif [ $rc = 2 ]; then echo peer {n} unknown; else echo peer {n} fail; fi ) &")
    lines += ["wait", "exit 0"]
    return sh(STEP_NAME, "\n".join(lines), allowance=5)


def parse_check(step: StepResult) -> dict[str, str]:
    """target -> ok | fail | unknown (nothing when the step did not run)."""
    out: dict[str, str] = {}
    if not step.ok:
        return out
    for line in step.stdout.splitlines():
        words = line.split()
        if len(words) == 3 and words[0] == "peer" and words[2] in ("ok", "fail", "unknown"):
            out[words[1]] = words[2]
    return out


def verdict(answers: Sequence[str]) -> str:
    """What the peers' answers about one host say."""
    if "ok" in answers:
        return PARTITION
    return DOWN if "fail" in answers else UNCHECKED


def peers_for(target: str, ready: Sequence[str], n: int = PEERS) -> list[str]:
    """Up to `n` ready hosts to ask about `target`, spread by its name so no one host asks every time."""
    ready = sorted(ready)
    if not ready:
        return []
    start = sum(map(ord, target)) % len(ready)
    return [ready[(start + i) % len(ready)] for i in range(min(n, len(ready)))]


def cross_check(transport: Transport, hosts: Mapping[str, Host], facts: Sequence[HostFacts],
                max_workers: int = 32) -> list[HostFacts]:
    """The facts, with a verdict on each unreachable host from its peers (one extra round trip per asking
    peer, only when some host failed)."""
    failed = [f for f in facts if not f.reachable and f.name in hosts]
    ready = [f.name for f in facts if f.ready and f.name in hosts]
    if not failed:
        return list(facts)
    asks: dict[str, list[tuple[str, str, int]]] = {}
    for f in failed:
        h = hosts[f.name]
        for peer in peers_for(f.name, ready):
            asks.setdefault(peer, []).append((f.name, h.address, h.port or 22))

    def ask(peer: Host) -> dict[str, str]:
        try:
            result = transport.run_batch(peer, [check_step(asks[peer.name])])
        except (HostUnreachable, TransportError):
            return {}
        return parse_check(result[STEP_NAME])

    answers = run_parallel([hosts[p] for p in sorted(asks)], ask, max_workers=max_workers) if asks else {}
    out = []
    names = {f.name for f in failed}
    for f in facts:
        if f.name in names:
            said = {p: a[f.name] for p, a in answers.items() if isinstance(a, dict) and f.name in a}
            f = dataclasses.replace(f, verdict=verdict(list(said.values())),
                                    peers={p: said[p] for p in sorted(said)})
        out.append(f)
    return out
