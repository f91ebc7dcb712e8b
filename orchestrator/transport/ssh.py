"""The SSH transport: a pool of paramiko transports (one per host, reused across calls, thread-safe),
each batch run as ONE exec channel of `sh -s` fed the batch script on stdin.

Host keys are verified against ~/.ssh/known_hosts (or `known_hosts_files`), ssh_config's
UserKnownHostsFile, the project file (`settings.known_hosts`) and the host's own file; `accept-new`
appends an unknown host's key to the host's file, else the project file, else the first user file.
Paths are used as given (`~` expanded): callers resolve project-relative paths before passing settings.
"""

from __future__ import annotations

import contextlib
import logging
import shlex
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from orchestrator.transport.paramiko_lib import paramiko  # isort: skip  (first: without invoke)

from orchestrator.commands.base import Command
from orchestrator.config import SSHSettings
from orchestrator.errors import (
    AuthFailed,
    CommandTimeout,
    HostKeyError,
    HostUnreachable,
    StreamSilent,
    TransportError,
)
from orchestrator.inventory.host import Host
from orchestrator.transport.base import BatchResult, TransportCounters
from orchestrator.transport.connect import HostKeyPolicy, KeyRing, open_hop, with_connect_retries
from orchestrator.transport.known_hosts import KnownHostsWriter
from orchestrator.transport.script import as_host_user, build_script, parse_output, remote_command, time_limit
from orchestrator.transport.ssh_config import Endpoint, load_ssh_config, resolve

log = logging.getLogger(__name__)

DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
# Concurrent channels per connection: well under sshd's default MaxSessions of 10, since sshd still counts a
# session for a moment after we closed it, and at the very edge it refuses or even drops sessions.
CHANNELS_PER_HOST = 6
_CHUNK = 65536
REFUSAL_BACKOFF = (0.02, 0.05, 0.1, 0.2, 0.4, 0.8)  # seconds between retries of a refused session
_POLL = 0.2


@dataclass
class _Pool:
    transports: dict[tuple[object, ...], paramiko.Transport] = field(default_factory=dict)
    locks: dict[tuple[object, ...], threading.Lock] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def lock_for(self, key: tuple[object, ...]) -> threading.Lock:
        with self.lock:
            return self.locks.setdefault(key, threading.Lock())


class SSHTransport:
    """The real transport. `close()` closes every pooled connection."""

    def __init__(
        self,
        settings: SSHSettings,
        *,
        known_hosts_files: list[str] | None = None,
        ssh_config_path: str | None = None,
    ):
        self.settings = settings
        self.counters = TransportCounters()
        self._user_known_hosts = (
            list(known_hosts_files) if known_hosts_files is not None else [DEFAULT_KNOWN_HOSTS]
        )
        self._ssh_config_path = ssh_config_path or settings.ssh_config
        self._ssh_config: paramiko.SSHConfig | None = None
        self._endpoints: dict[Host, Endpoint] = {}
        self._writers: dict[str, KnownHostsWriter] = {}
        self._keyring = KeyRing()
        self._pool = _Pool()
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._lock = threading.Lock()  # counters, caches

    # -- the Transport protocol -------------------------------------------------------------------

    def run_batch(
        self,
        host: Host,
        steps: Sequence[Command],
        *,
        stop_on_error: bool = False,
        timeout: float | None = None,
    ) -> BatchResult:
        """Run every step in ONE exec channel. An empty batch returns at once without a round trip."""
        if not steps:
            return BatchResult(host=host.name, steps=())
        script = build_script(steps, stop_on_error=stop_on_error)
        base = timeout if timeout is not None else self.settings.command_timeout
        limit = time_limit(base, steps)  # grace periods of graceful stops come on top
        log.debug("%s: batch of %d steps: %s", host.name, len(steps), ", ".join(script.names))
        start = time.monotonic()
        try:
            with self._session(host, start + limit) as chan:
                try:
                    chan.exec_command(remote_command(host.become))
                    out, err = _exchange(chan, script.text.encode(), start + limit)
                except TimeoutError:
                    raise
                except (paramiko.SSHException, EOFError, OSError) as e:
                    self._drop(host, only_if_dead=True)
                    raise HostUnreachable(
                        host.name, "network", f"connection lost while running a batch: {e}"
                    ) from e
        except TimeoutError as e:
            raise CommandTimeout(
                host.name,
                f"batch ({', '.join(script.names)}) did not finish within {limit:g}s"
                + (f" ({base:g}s ssh.command_timeout + {limit - base:g}s for grace periods)" if limit > base else "")
                + "; raise ssh.command_timeout in orc.yaml if the work is legitimately slow",
            ) from e
        return parse_output(script, host.name, out, err, duration=time.monotonic() - start)

    def put_file(self, host: Host, path: str, data: bytes, mode: int = 0o644) -> None:
        """Write `data` to `path` atomically (temp file in the same folder, then rename), in one round trip."""
        q = shlex.quote(path)
        script = (
            f'umask 077; tmp=$(mktemp "$(dirname {q})/.orc-put.XXXXXX") || exit 1; '
            f'if cat > "$tmp" && chmod {mode:04o} "$tmp" && mv -f "$tmp" {q}; then exit 0; fi; '
            'rm -f "$tmp"; exit 1'
        )
        result = self.run_batch(host, [Command(name="put-file", shell=script, stdin=data)])
        step = result.steps[0]
        if not step.ok:
            raise TransportError(
                host.name,
                f"cannot write {path} (exit {step.exit_code}: {step.stderr.strip() or 'no message'}); check the "
                "folder exists and the user may write it (ansible_become for root-owned paths)",
            )
        with self._lock:
            self.counters.files_put += 1

    def stream(self, host: Host, command: Command, idle: float | None = None) -> Iterator[str]:
        """Yield the command's stdout lines (without the newline) until it exits; closing the generator
        closes the channel. A non-zero exit raises TransportError with the end of its stderr; with `idle`,
        no byte for that long raises HostUnreachable and takes the connection out of the pool."""
        errors: list[bytes] = []
        with self._session(host, None) as chan:
            chan.settimeout(idle)
            rendered = command.render()
            chan.exec_command(as_host_user(rendered, host.become))
            if command.stdin:
                chan.sendall(command.stdin)
            chan.shutdown_write()
            drain = threading.Thread(target=_drain_stderr, args=(chan, errors), daemon=True)
            drain.start()
            buffer = b""
            while True:
                try:
                    data = chan.recv(_CHUNK)
                except TimeoutError:
                    self._unpool(host, chan.get_transport())
                    raise StreamSilent(host.name, f"{command.name}: nothing from the host for {idle:g}s (its "
                                       "heartbeat stopped)") from None
                if not data:
                    break
                buffer += data
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    yield line.decode("utf-8", errors="replace")
            if buffer:
                yield buffer.decode("utf-8", errors="replace")
            status = chan.recv_exit_status()
            drain.join(timeout=1.0)
            if status not in (0, -1):
                tail = b"".join(errors)[-500:].decode("utf-8", errors="replace").strip()
                raise TransportError(
                    host.name, f"{command.name} exited with {status}: {tail or 'no message'}"
                )

    @contextlib.contextmanager
    def channel(self, host: Host) -> Iterator[paramiko.Channel]:
        """A raw session channel on the host's pooled connection, for binary streams (image copies). It
        counts as one round trip and holds one of the host's channel slots until closed."""
        with self._session(host, None) as chan:
            yield chan

    def close(self) -> None:
        with self._pool.lock:
            transports = list(self._pool.transports.values())
            self._pool.transports.clear()
        for t in reversed(transports):  # targets before the jump hosts they go through
            t.close()

    # -- connections ------------------------------------------------------------------------------

    def endpoint(self, host: Host) -> Endpoint:
        """The resolved connection parameters of `host` (inventory over ssh_config)."""
        with self._lock:
            if host not in self._endpoints:
                if self._ssh_config is None:
                    self._ssh_config = load_ssh_config(self._ssh_config_path)
                self._endpoints[host] = resolve(host, self._ssh_config)
            return self._endpoints[host]

    def connection(self, host: Host) -> paramiko.Transport:
        """The pooled, authenticated transport to `host`; connects (with retries) if there is none."""
        endpoint = self.endpoint(host)
        key = (host.name, *endpoint.pool_key)  # one connection per inventory host; jump hosts are shared
        with self._pool.lock_for(key):
            existing = self._pool.transports.get(key)
            if existing is not None and existing.is_active():
                return existing
            deadline = time.monotonic() + self.settings.connect_timeout
            transport = with_connect_retries(
                lambda: self._connect(host, endpoint, deadline),
                retries=self.settings.connect_retries,
                budget=self.settings.connect_timeout,
            )
            with self._pool.lock:
                self._pool.transports[key] = transport
            return transport

    def _connect(self, host: Host, endpoint: Endpoint, deadline: float) -> paramiko.Transport:
        via: paramiko.Transport | None = None
        chain: list[object] = []
        for hop in endpoint.jumps:
            chain.append(hop.pool_key)
            via = self._jump(host, hop, tuple(chain), via, deadline)
        transport = open_hop(
            host.name,
            endpoint,
            policy=self._policy(host, endpoint),
            keyring=self._keyring,
            deadline=deadline,
            via=via,
        )
        with self._lock:
            self.counters.connects += 1
        return transport

    def _jump(
        self,
        host: Host,
        hop: Endpoint,
        chain: tuple[object, ...],
        via: paramiko.Transport | None,
        deadline: float,
    ) -> paramiko.Transport:
        key = ("jump", *chain)
        with self._pool.lock_for(key):
            existing = self._pool.transports.get(key)
            if existing is not None and existing.is_active():
                return existing
            try:
                t = open_hop(
                    host.name,
                    hop,
                    policy=self._policy(host, hop, jump=True),
                    keyring=self._keyring,
                    deadline=deadline,
                    via=via,
                )
            except HostUnreachable as e:
                raise _via_jump(e, hop) from e
            with self._lock:
                self.counters.connects += 1
            with self._pool.lock:
                self._pool.transports[key] = t
            return t

    def _policy(self, host: Host, endpoint: Endpoint, *, jump: bool = False) -> HostKeyPolicy:
        """Files to check `endpoint`'s key in, and where accept-new writes: the host's own file (not for a
        jump host, which other hosts share), else the project file, else the first user file."""
        files = [*self._user_known_hosts, *endpoint.known_hosts_files]
        if self.settings.known_hosts:
            files.append(self.settings.known_hosts)
        if host.known_hosts_file:
            files.append(host.known_hosts_file)
        own = None if jump else host.known_hosts_file
        target = own or self.settings.known_hosts or files[0]
        with self._lock:
            writer = self._writers.setdefault(target, KnownHostsWriter(target))
        return HostKeyPolicy(
            mode=self.settings.host_key_policy, read_files=tuple(dict.fromkeys(files)), writer=writer
        )

    @contextmanager
    def _session(self, host: Host, deadline: float | None) -> Iterator[paramiko.Channel]:
        """A session channel on the pooled connection, holding one of the host's channel slots (sshd
        refuses more than MaxSessions, 10 by default, per connection). Raises TimeoutError if no slot
        frees up before `deadline`."""
        slots = self._slots_for(host)
        wait = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        if not slots.acquire(timeout=wait):
            raise TimeoutError
        try:
            chan = self._open_channel(host)
            try:
                yield chan
            finally:
                chan.close()
        finally:
            slots.release()

    def _slots_for(self, host: Host) -> threading.BoundedSemaphore:
        with self._lock:
            return self._slots.setdefault(host.name, threading.BoundedSemaphore(CHANNELS_PER_HOST))

    def _open_channel(self, host: Host) -> paramiko.Channel:
        """A new session channel; a dead pooled connection is replaced once (nothing ran on it yet).
        A refusal is retried briefly: sshd counts a session we just closed until it has torn it down, so
        at the MaxSessions edge it may say no for a few milliseconds."""
        refusals = 0
        replaced = False
        while True:
            transport = self.connection(host)
            try:
                chan = transport.open_session(timeout=self.settings.connect_timeout)
            except paramiko.ChannelException as e:  # the server answered: no (MaxSessions, ...)
                if refusals < len(REFUSAL_BACKOFF):
                    time.sleep(REFUSAL_BACKOFF[refusals])
                    refusals += 1
                    continue
                raise TransportError(
                    host.name,
                    f"sshd refused a new session ({e}); lower concurrent work per host or raise "
                    "MaxSessions in the host's sshd_config",
                ) from e
            except (paramiko.SSHException, EOFError, OSError) as e:  # a dead or silent connection
                self._drop(host)
                if replaced:
                    raise HostUnreachable(host.name, "network", f"cannot open a channel: {e}") from e
                replaced = True
                continue
            with self._lock:
                self.counters.exec_channels += 1
                self.counters.per_host_exec[host.name] = self.counters.per_host_exec.get(host.name, 0) + 1
            return chan

    def _unpool(self, host: Host, transport: paramiko.Transport | None) -> None:
        """A connection that went silent: no new session is opened on it (the next one reconnects, and
        fails within the connect timeout if the host is gone). It is closed once any command still running
        on it has had its command timeout, so a host that was only slow loses no work."""
        key = (host.name, *self.endpoint(host).pool_key)
        with self._pool.lock:
            if transport is None or self._pool.transports.get(key) is not transport:
                return
            del self._pool.transports[key]
        closer = threading.Timer(self.settings.command_timeout, transport.close)
        closer.daemon = True
        closer.start()

    def _drop(self, host: Host, *, only_if_dead: bool = False) -> None:
        key = (host.name, *self.endpoint(host).pool_key)
        with self._pool.lock:
            t = self._pool.transports.get(key)
            if t is None or (only_if_dead and t.is_active()):
                return
            del self._pool.transports[key]
        if t is not None:
            t.close()


def _via_jump(e: HostUnreachable, hop: Endpoint) -> HostUnreachable:
    """The same error, saying it happened on the jump host."""
    message = f"via jump host {hop.label}: {str(e).partition(': ')[2]}"
    if isinstance(e, HostKeyError):
        return HostKeyError(e.host, message)
    if isinstance(e, AuthFailed):
        return AuthFailed(e.host, message)
    return HostUnreachable(e.host, e.reason, message)


def _exchange(chan: paramiko.Channel, stdin: bytes, deadline: float) -> tuple[bytes, bytes]:
    """Feed stdin while reading stdout and stderr concurrently, so no side can block the other; return
    (stdout, stderr) once the remote side closes. Raises TimeoutError at the deadline."""
    chan.settimeout(_POLL)
    stop = threading.Event()
    err_chunks: list[bytes] = []
    if len(stdin) <= chan.out_window_size:  # it fits the window the server granted: sent without blocking
        _feed(chan, stdin, deadline, stop)  # (a batch script is a few KB; the window OpenSSH grants 2 MB)
    else:
        threading.Thread(target=_feed, args=(chan, stdin, deadline, stop), daemon=True).start()
    reader = threading.Thread(target=_read_stderr, args=(chan, err_chunks, deadline, stop), daemon=True)
    reader.start()
    out_chunks: list[bytes] = []
    try:
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError
            try:
                data = chan.recv(_CHUNK)
            except TimeoutError:
                continue
            if not data:
                break
            out_chunks.append(data)
        reader.join(max(deadline - time.monotonic(), 0))
        if reader.is_alive():
            raise TimeoutError
        if not chan.status_event.wait(max(deadline - time.monotonic(), 0)):
            raise TimeoutError
    finally:
        stop.set()
    return b"".join(out_chunks), b"".join(err_chunks)


def _feed(chan: paramiko.Channel, data: bytes, deadline: float, stop: threading.Event) -> None:
    pos = 0
    try:
        while pos < len(data) and not stop.is_set() and time.monotonic() < deadline:
            try:
                sent = chan.send(data[pos : pos + _CHUNK])
            except TimeoutError:
                continue
            if sent == 0:
                return
            pos += sent
        chan.shutdown_write()
    except (OSError, EOFError, paramiko.SSHException):
        return  # the remote side went away: the reader sees it


def _read_stderr(chan: paramiko.Channel, chunks: list[bytes], deadline: float, stop: threading.Event) -> None:
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            data = chan.recv_stderr(_CHUNK)
        except TimeoutError:
            continue
        except (OSError, EOFError, paramiko.SSHException):
            return
        if not data:
            return
        chunks.append(data)


def _drain_stderr(chan: paramiko.Channel, chunks: list[bytes]) -> None:
    while True:
        try:
            data = chan.recv_stderr(_CHUNK)
        except (OSError, EOFError, paramiko.SSHException):
            return
        if not data:
            return
        chunks.append(data)
        if len(chunks) > 64:
            del chunks[:32]
