"""Host-side fencing: every mutating batch first checks, and records, the controller's fencing token on the
host, under a lock on the host, and refuses to run when the host has already seen a newer token.

The token is (cluster name, lease token): the controller's lease on the store's `reconcile` lock (SQLite today,
an etcd lease later) hands out a token that grows with every acquisition. A controller that was stalled or
SIGSTOPped past its lease's ttl has lost it to another, which took a higher token; the first batch the new one
sends to a host records that token there, and from then on the host refuses the stale one's batches: the
refusal names the host and both tokens, nothing after the fence runs on that host, and the stale controller
stops (exit 1).

On the host, per cluster, in `<orc_state_dir>/<cluster>/` (host var `orc_state_dir`, default /var/lib/orc):

    fence.lock    flock'ed by a batch for its whole run, so two controllers' batches never interleave
    token         the newest token seen (decimal), replaced atomically (write + rename) under the lock

The fence is the batch's guard step (`Command.guard`): it runs in the batch script's own shell, takes the
flock on `GUARD_FD` (waiting up to `LOCK_WAIT` seconds for another batch), compares and records, and ends
the batch on refusal; the batch stays one round trip. It needs `flock` (util-linux) on the host.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from orchestrator.commands.base import Command
from orchestrator.errors import ConfigError
from orchestrator.inventory.host import Host
from orchestrator.inventory.state_dir import state_dir
from orchestrator.store.base import Fence, FencedError
from orchestrator.transport.base import StepResult, Transport
from orchestrator.transport.parallel import run_parallel
from orchestrator.transport.script import GUARD_FD

STEP_NAME = "fence"
LOCK_WAIT = 30  # seconds a batch waits for another batch's host lock before giving up on that host
REFUSED_MARK = "ORC-FENCE-REFUSED"

# Exit codes of the fence step.
REFUSED = 10  # the host has seen a newer token: this controller is stale
NO_FLOCK = 11  # no `flock` on the host
STATE_ERROR = 12  # the state folder or token file cannot be used
BUSY = 13  # another batch kept the host lock for LOCK_WAIT seconds

_CLUSTER = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_MAX_DIGITS = 18  # tokens fit a 64-bit shell integer


class HostFencedError(FencedError):
    """Hosts refused this controller's batches: another controller holds a newer lease. `.hosts` maps each
    refusing host to the token it has seen."""

    def __init__(self, message: str, hosts: dict[str, int]):
        super().__init__(message)
        self.hosts = hosts


class Lease(Protocol):
    """What the fence needs of the store's lock (`store.base.Lock`)."""

    name: str

    @property
    def token(self) -> int: ...

    def check(self) -> None: ...


@dataclass(frozen=True)
class HostFence:
    """The fence of one controller: its cluster and its lease. `check()` before acting (raises FencedError
    once the lease is lost); `step(host)` is the guard that opens each mutating batch.

    `stop_before_batches` is a fault point for the end-to-end test of a stale controller: the process stops
    itself (SIGSTOP) after its last lease check and before it sends its batches, as a controller paused at the
    worst moment would (set by `ORC_TEST_STOP_BEFORE_BATCHES=1`; never in normal use)."""

    cluster: str
    lease: Lease
    stop_before_batches: bool = False

    @property
    def token(self) -> int:
        return self.lease.token

    @property
    def store_fence(self) -> Fence:
        """The `fence=` of store writes made under this lease."""
        return (self.lease.name, self.lease.token)

    def check(self) -> None:
        self.lease.check()

    def before_batches(self, first: bool = True) -> None:
        """Right before a round of batches: the lease check (and, before the first round, the fault point)."""
        self.check()
        if self.stop_before_batches and first:
            os.kill(os.getpid(), signal.SIGSTOP)

    def step(self, host: Host) -> Command:
        return fence_step(state_dir(host), self.cluster, self.token)

    def refusal(self, host: str, result: StepResult) -> str:
        """The error of a failed fence step on `host`."""
        seen = refused_by(result)
        if seen is not None:
            return (f"{host} refused this controller's batch: the host has seen fencing token {seen} of cluster "
                    f"{self.cluster}, newer than this controller's {self.token}: another controller took over "
                    f'the lease (lock "{self.lease.name}") and acts now; this one stops (nothing ran on {host})')
        detail = result.stderr.strip() or result.stdout.strip() or f"exit {result.exit_code}"
        if result.exit_code == BUSY:
            return f"{host}: fence: {detail} (nothing ran on {host}; retried next pass)"
        return f"{host}: fence failed: {detail} (nothing ran on {host})"

    def refused(self, refusals: dict[str, int]) -> HostFencedError:
        hosts = ", ".join(f"{h} (has seen {t})" for h, t in sorted(refusals.items()))
        return HostFencedError(
            f"this controller's lease is stale: {len(refusals)} host(s) refused its batches with fencing token "
            f"{self.token} of cluster {self.cluster}: {hosts}; another controller took over the lease "
            f'(lock "{self.lease.name}"): this one stops', dict(refusals))


def claim_hosts(fence: HostFence, hosts: Sequence[Host], transport: Transport, max_workers: int) -> dict[str, str]:
    """Record this controller's token on every host at once (a `--watch` leader that just took over), so a
    stale leader is refused by every host, not only by those the new one had work for. One round trip per
    host, in parallel. Raises HostFencedError if a host has seen a newer token already; returns the hosts
    it could not reach ({host: why}): their first batch fences them."""
    fence.check()
    answers = run_parallel(hosts, lambda h: transport.run_batch(h, [fence.step(h)]), max_workers=max_workers)
    failed: dict[str, str] = {}
    refusals: dict[str, int] = {}
    for name, answer in answers.items():
        if isinstance(answer, Exception):
            failed[name] = str(answer)
            continue
        step = answer[STEP_NAME]
        seen = refused_by(step)
        if seen is not None:
            refusals[name] = seen
        elif not step.ok:
            failed[name] = fence.refusal(name, step)
    if refusals:
        raise fence.refused(refusals)
    return failed


def fence_step(state: str, cluster: str, token: int) -> Command:
    """The guard step checking and recording (cluster, token) in `<state>/<cluster>/` on the host."""
    if not _CLUSTER.match(cluster) or len(cluster) > 63:
        raise ConfigError(f"cluster name {cluster!r} is invalid for a host's state folder")
    if not isinstance(token, int) or token < 0 or len(str(token)) > _MAX_DIGITS:
        raise ValueError(f"fencing token {token!r} is invalid: a non-negative integer of at most "
                         f"{_MAX_DIGITS} digits")
    return Command(name=STEP_NAME, shell=fence_script(f"{state.rstrip('/')}/{cluster}", token), guard=True)


def fence_script(folder: str, token: int) -> str:
    """Shell text for the batch's own shell (see `Command.guard`): no `exit` of the shell: the status of its last line, a subshell's, is its verdict."""
    fd = GUARD_FD
    too_long = "?" * (_MAX_DIGITS + 1) + "*"
    return "\n".join([
        f"orc_fence_dir={shlex.quote(folder)}",
        "orc_fence_rc=0",
        "if ! command -v flock >/dev/null 2>&1; then",
        "  echo 'fence: flock is not installed on this host: install util-linux' >&2",
        f"  orc_fence_rc={NO_FLOCK}",
        f'elif ! mkdir -p -- "$orc_fence_dir" || ! command exec {fd}>>"$orc_fence_dir/fence.lock"; then',
        '  echo "fence: cannot open $orc_fence_dir/fence.lock: set orc_state_dir to a folder the SSH user'
        ' may write" >&2',
        f"  orc_fence_rc={STATE_ERROR}",
        f"elif ! flock -w {LOCK_WAIT} {fd}; then",
        f'  echo "fence: another batch has held $orc_fence_dir/fence.lock for {LOCK_WAIT}s" >&2',
        f"  orc_fence_rc={BUSY}",
        "else",
        '  orc_fence_seen=$(cat -- "$orc_fence_dir/token" 2>/dev/null) || orc_fence_seen=0',
        '  case "$orc_fence_seen" in',
        "    '') orc_fence_seen=0 ;;",
        f"    *[!0-9]*|{too_long})",
        '      echo "fence: $orc_fence_dir/token holds no token: remove it" >&2',
        f"      orc_fence_rc={STATE_ERROR} ;;",
        "  esac",
        '  if [ "$orc_fence_rc" -ne 0 ]; then',
        "    :",
        f'  elif [ "$orc_fence_seen" -gt {token} ]; then',
        f"    printf '%s %s\\n' {REFUSED_MARK} \"$orc_fence_seen\"",
        f"    orc_fence_rc={REFUSED}",
        f'  elif [ "$orc_fence_seen" -lt {token} ]; then',
        f"    if ! {{ printf '%s\\n' {token} >\"$orc_fence_dir/token.new\" &&"
        ' mv -f -- "$orc_fence_dir/token.new" "$orc_fence_dir/token"; }; then',
        '      echo "fence: cannot write $orc_fence_dir/token" >&2',
        f"      orc_fence_rc={STATE_ERROR}",
        "    fi",
        "  fi",
        "fi",
        '(exit "$orc_fence_rc")',
    ])


def refused_by(result: StepResult) -> int | None:
    """The newer token a refusing host reported, or None if the fence did not refuse."""
    if result.exit_code != REFUSED:
        return None
    for line in result.stdout.splitlines():
        word = line.split()
        if len(word) == 2 and word[0] == REFUSED_MARK and word[1].isdigit():
            return int(word[1])
    return None

