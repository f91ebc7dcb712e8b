"""Images without a registry: stream `docker save` from wherever the image is (this machine's docker, or a
host that has it) into `docker load` on the hosts that lack it, over SSH. One source read feeds every
target at once, so N hosts cost one save."""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from orchestrator.commands.base import cmd
from orchestrator.errors import OrcError
from orchestrator.inventory.host import Host
from orchestrator.transport.parallel import run_parallel

CHUNK = 1 << 16


@dataclass(frozen=True)
class PushResult:
    host: str
    ok: bool
    bytes: int = 0
    seconds: float = 0.0
    error: str = ""


def hosts_with_image(transport: Any, hosts: Sequence[Host], image: str) -> dict[str, bool | Exception]:
    def has(h: Host) -> bool:
        return transport.run_batch(h, [cmd("image", "docker", "image", "inspect", "--format", "{{.Id}}", "--", image)]).ok

    return run_parallel(hosts, has)


def _local_has(image: str) -> bool:
    try:
        return subprocess.run(["docker", "image", "inspect", "--", image], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def push(transport: Any, image: str, targets: Sequence[Host], source: Host | None,
         progress: Callable[[int], None] | None = None) -> list[PushResult]:
    """Copy `image` from `source` (None: this machine's docker) to every target; `progress(bytes)` is told
    how much has been read from the source so far."""
    start = time.monotonic()
    live: dict[str, Any] = {}
    failed: dict[str, str] = {}
    sent = 0
    with ExitStack() as stack:
        for h in targets:
            try:
                chan = stack.enter_context(transport.channel(h))
                chan.exec_command("sudo -n docker load -q" if h.become else "docker load -q")
                live[h.name] = chan
            except Exception as e:  # noqa: BLE001 - one target's failure is that target's result
                failed[h.name] = str(e)
        if not live:  # nobody to feed: do not start (or block on) a save
            return sorted((PushResult(n, False, error=e) for n, e in failed.items()), key=lambda r: r.host)
        if source is None:
            proc = subprocess.Popen(["docker", "save", "--", image], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            read = proc.stdout.read if proc.stdout else None  # type: ignore[union-attr]
            src_status = proc.wait
            src_err = lambda: proc.stderr.read().decode(errors="replace") if proc.stderr else ""  # noqa: E731
        else:
            schan = stack.enter_context(transport.channel(source))
            schan.exec_command(("sudo -n " if source.become else "") + shlex.join(["docker", "save", "--", image]))
            read = schan.recv
            src_status = schan.recv_exit_status
            src_err = lambda: schan.recv_stderr(65536).decode(errors="replace")  # noqa: E731
        assert read is not None
        while live:
            data = read(CHUNK)
            if not data:
                break
            sent += len(data)
            if progress is not None:
                progress(sent)
            for name, chan in list(live.items()):
                try:
                    chan.sendall(data)
                except OSError as e:
                    failed[name] = f"connection lost while loading: {e}"
                    del live[name]
        if not live:  # every target failed mid-way: stop the source instead of waiting on a full pipe
            if source is None:
                proc.kill()
            else:
                schan.close()
            return sorted((PushResult(n, False, error=e) for n, e in failed.items()), key=lambda r: r.host)
        status = src_status()
        if status != 0:
            raise OrcError(f"docker save {image} failed on {source.name if source else 'this machine'}: "
                           f"{src_err().strip() or f'exit {status}'}")
        for chan in live.values():
            chan.shutdown_write()
        results = []
        for name, chan in live.items():
            code = chan.recv_exit_status()
            if code != 0:
                failed[name] = chan.recv_stderr(65536).decode(errors="replace").strip() or f"exit {code}"
            else:
                results.append(PushResult(name, True, sent, time.monotonic() - start))
    results += [PushResult(n, False, error=e) for n, e in failed.items()]
    return sorted(results, key=lambda r: r.host)


def plan_push(transport: Any, image: str, hosts: Sequence[Host], source_name: str | None = None
              ) -> tuple[Host | None, list[Host], list[str]]:
    """(source, targets, unreachable): hosts that already have the image are skipped."""
    have = hosts_with_image(transport, hosts, image)
    unreachable = [n for n, v in have.items() if isinstance(v, Exception)]
    targets = [h for h in hosts if have.get(h.name) is False]
    if source_name:
        src = next((h for h in hosts if h.name == source_name), None)
        if src is None:
            raise OrcError(f"--from {source_name}: no such host in the inventory")
        return src, [h for h in targets if h.name != source_name], unreachable
    if not targets or _local_has(image):
        return None, targets, unreachable
    src = next((h for h in hosts if have.get(h.name) is True), None)
    if src is None:
        raise OrcError(f"image {image} is neither in this machine's docker nor on any host: "
                       "`docker pull` or `docker load` it here first")
    return src, targets, unreachable
