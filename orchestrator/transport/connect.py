"""Opening one SSH hop: TCP (or a jump host's `direct-tcpip` channel), key exchange restricted to the key
types already known for the host, host key verification against known_hosts, public key auth. Every
failure becomes a `HostUnreachable` whose reason is one of refused, timeout, dns, network, auth, hostkey,
error and whose message says what to do."""

from __future__ import annotations

import errno
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from orchestrator.transport.paramiko_lib import paramiko  # isort: skip  (first: without invoke)
from paramiko.ssh_exception import IncompatiblePeer
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)

from orchestrator.errors import AuthFailed, HostKeyError, HostUnreachable
from orchestrator.transport.known_hosts import (
    ALGORITHMS_FOR_KEY_TYPE,
    KnownHostsWriter,
    KnownKey,
    allowed_algorithms,
    fingerprint,
    host_pattern,
    key_type_of,
    read_keys,
)
from orchestrator.transport.ssh_config import DEFAULT_IDENTITIES, Endpoint

KEEPALIVE_SECONDS = 15
TRANSIENT_REASONS = frozenset({"refused", "timeout"})

T = TypeVar("T")


def with_connect_retries(attempt: Callable[[], T], *, retries: int, budget: float) -> T:
    """Call `attempt` until it succeeds, retrying (with jittered backoff) only transient failures
    (refused, timeout) at most `retries` times and never past `budget` seconds in all: auth and host key
    failures are final, and an unreachable host costs at most the connect timeout."""
    retrying = Retrying(
        stop=stop_after_attempt(retries + 1) | stop_before_delay(budget),
        wait=wait_random_exponential(multiplier=0.1, max=1.0),
        retry=retry_if_exception(lambda e: isinstance(e, HostUnreachable) and e.reason in TRANSIENT_REASONS),
        reraise=True,
    )
    return retrying(attempt)


@dataclass(frozen=True)
class HostKeyPolicy:
    mode: Literal["strict", "accept-new"]
    read_files: tuple[str, ...]  # every known_hosts file consulted
    writer: KnownHostsWriter  # where accept-new appends


@dataclass
class KeyRing:
    """Private keys loaded once per transport (thread-safe), and the agent's keys."""

    _keys: dict[str, paramiko.PKey | str] = field(default_factory=dict)  # path -> key, or why it is unusable
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def load(self, path: str) -> paramiko.PKey | str:
        with self._lock:
            if path not in self._keys:
                self._keys[path] = _load_key(path)
            return self._keys[path]

    def candidates(self, endpoint: Endpoint) -> tuple[list[tuple[str, paramiko.PKey]], list[str]]:
        """Keys to offer, in order, with their labels; and the notes on keys that could not be used."""
        keys: list[tuple[str, paramiko.PKey]] = []
        notes: list[str] = []
        explicit = list(endpoint.key_files)
        for path in explicit:
            k = self.load(path)
            if isinstance(k, str):
                notes.append(f"{path}: {k}")
            else:
                keys.append((path, k))
        if not endpoint.identities_only and os.environ.get("SSH_AUTH_SOCK"):
            try:
                keys += [(f"agent key {k.get_name()}", k) for k in paramiko.Agent().get_keys()]
            except paramiko.SSHException:
                notes.append("ssh-agent: not reachable")
        if not explicit:
            for path in DEFAULT_IDENTITIES:
                full = os.path.expanduser(path)
                if os.path.exists(full):
                    k = self.load(full)
                    if not isinstance(k, str):
                        keys.append((full, k))
        return keys, notes


def _load_key(path: str) -> paramiko.PKey | str:
    try:
        return paramiko.PKey.from_path(path)
    except FileNotFoundError:
        return "not found"
    except paramiko.PasswordRequiredException:
        return "encrypted (load it into ssh-agent with ssh-add)"
    except (paramiko.SSHException, ValueError, OSError) as e:
        return f"unreadable ({e})"


def open_hop(
    host_name: str,
    endpoint: Endpoint,
    *,
    policy: HostKeyPolicy,
    keyring: KeyRing,
    deadline: float,
    via: paramiko.Transport | None = None,
) -> paramiko.Transport:
    """An authenticated transport to `endpoint`, directly or through the `via` jump transport."""
    sock = _open_socket(host_name, endpoint, deadline, via)
    known = read_keys(policy.read_files, endpoint.key_name, endpoint.port)
    allowed = allowed_algorithms(known)
    disabled = [a for a in _host_key_algorithms() if a not in allowed] if allowed else []
    transport = paramiko.Transport(sock, disabled_algorithms={"keys": disabled} if disabled else None)
    try:
        _handshake(host_name, endpoint, transport, deadline, allowed)
        _verify_host_key(host_name, endpoint, transport.get_remote_server_key(), known, policy)
        _authenticate(host_name, endpoint, transport, keyring, deadline)
    except BaseException:
        transport.close()
        raise
    transport.set_keepalive(KEEPALIVE_SECONDS)
    return transport


def _host_key_algorithms() -> tuple[str, ...]:
    """Every host key algorithm paramiko might negotiate (its private list, plus the ones we know of)."""
    theirs = tuple(vars(paramiko.Transport).get("_preferred_keys", ()))
    ours = tuple(a for algos in ALGORITHMS_FOR_KEY_TYPE.values() for a in algos)
    return tuple(dict.fromkeys(theirs + ours))


def _remaining(deadline: float) -> float:
    return max(deadline - time.monotonic(), 0.01)


def _open_socket(
    host_name: str, endpoint: Endpoint, deadline: float, via: paramiko.Transport | None
) -> socket.socket | paramiko.Channel:
    where = f"{endpoint.hostname}:{endpoint.port}"
    if via is not None:
        try:
            return via.open_channel(
                "direct-tcpip",
                (endpoint.hostname, endpoint.port),
                ("127.0.0.1", 0),
                timeout=_remaining(deadline),
            )
        except paramiko.ChannelException as e:
            text = str(e.text).lower()
            reason = "refused" if "refused" in text else "timeout" if "timed out" in text else "network"
            raise HostUnreachable(
                host_name,
                reason,
                f"the jump host could not reach {where}: {e.text} (check ProxyJump and the port)",
            ) from e
        except (paramiko.SSHException, EOFError, OSError) as e:
            raise HostUnreachable(host_name, "network", f"the jump host connection failed: {e}") from e
    try:
        addrs = socket.getaddrinfo(endpoint.hostname, endpoint.port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise HostUnreachable(
            host_name,
            "dns",
            f"cannot resolve {endpoint.hostname!r} ({e.strerror}); fix ansible_host in the inventory "
            "or HostName in ~/.ssh/config",
        ) from e
    last: OSError | None = None
    for family, kind, proto, _, addr in addrs:
        sock = socket.socket(family, kind, proto)
        sock.settimeout(_remaining(deadline))
        try:
            sock.connect(addr)
        except OSError as e:
            sock.close()
            last = e
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    raise _socket_error(host_name, where, last)


def _socket_error(host_name: str, where: str, e: OSError | None) -> HostUnreachable:
    if isinstance(e, ConnectionRefusedError):
        return HostUnreachable(
            host_name,
            "refused",
            f"connection to {where} refused: is sshd running there, and is the port right "
            "(ansible_port / Port in ~/.ssh/config)?",
        )
    if isinstance(e, TimeoutError | socket.timeout):
        return HostUnreachable(
            host_name,
            "timeout",
            f"no answer from {where} within the connect timeout: the host is down or a firewall drops "
            "the traffic; raise ssh.connect_timeout in orc.yaml if the network is just slow",
        )
    if e is not None and e.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EHOSTDOWN, errno.ENETDOWN):
        return HostUnreachable(host_name, "network", f"{where} is unreachable ({e.strerror}): check routes")
    return HostUnreachable(host_name, "network", f"cannot connect to {where}: {e}")


def _handshake(
    host_name: str, endpoint: Endpoint, transport: paramiko.Transport, deadline: float, allowed: set[str]
) -> None:
    where = f"{endpoint.hostname}:{endpoint.port}"
    transport.banner_timeout = _remaining(deadline)
    transport.handshake_timeout = _remaining(deadline)
    done = threading.Event()
    transport.start_client(event=done)
    done.wait(_remaining(deadline))
    if transport.is_active() and done.is_set():
        return
    error = transport.get_exception()
    if not done.is_set() or "banner" in str(error).lower() and time.monotonic() >= deadline - 0.05:
        raise HostUnreachable(
            host_name,
            "timeout",
            f"{where} accepted the TCP connection but sent no SSH greeting within the connect timeout: "
            "is sshd (and not another service) listening there? Raise ssh.connect_timeout if it is slow",
        )
    if isinstance(error, IncompatiblePeer) and "host key" in str(error) and allowed:
        raise HostKeyError(
            host_name,
            f"{where} offers none of the host key types known_hosts holds for it ({', '.join(sorted(allowed))}):"
            " the host key may have CHANGED (reinstall, or a man-in-the-middle). If you know why, remove the "
            f"old entry with `ssh-keygen -R '{host_pattern(endpoint.key_name, endpoint.port)}'`",
        )
    if isinstance(error, EOFError | ConnectionResetError | socket.error):
        raise HostUnreachable(host_name, "network", f"{where} closed the connection during the SSH handshake")
    raise HostUnreachable(host_name, "error", f"SSH handshake with {where} failed: {error}")


def _verify_host_key(
    host_name: str,
    endpoint: Endpoint,
    server_key: paramiko.PKey,
    keys: Sequence[KnownKey],
    policy: HostKeyPolicy,
) -> None:
    blob = server_key.asbytes()
    key_type = key_type_of(blob)
    pattern = host_pattern(endpoint.key_name, endpoint.port)
    offered = f"{key_type} {fingerprint(blob)}"
    if any(k.revoked and k.blob == blob for k in keys):
        raise HostKeyError(
            host_name, f"{pattern} offered a REVOKED host key ({offered}): refusing to connect"
        )
    valid = [k for k in keys if not k.revoked]
    if any(k.blob == blob for k in valid):
        return
    if valid:
        where = ", ".join(k.source for k in valid)
        raise HostKeyError(
            host_name,
            f"HOST KEY CHANGED for {pattern}: it offers {offered} but known_hosts ({where}) holds "
            f"{valid[0].key_type} {valid[0].fingerprint}. This may be a man-in-the-middle attack, or the host "
            f"was reinstalled. If you know why, remove the old entry (`ssh-keygen -R '{pattern}' -f FILE`) and "
            "connect again; accept-new never replaces a changed key",
        )
    if policy.mode == "accept-new":
        policy.writer.append(endpoint.key_name, endpoint.port, key_type, blob)
        return
    port_opt = f"-p {endpoint.port} " if endpoint.port != 22 else ""
    raise HostKeyError(
        host_name,
        f"unknown host key for {pattern} ({offered}); looked in {', '.join(policy.read_files)}. Verify it and "
        f"add it: `ssh-keyscan {port_opt}{endpoint.key_name} >> {policy.writer.path}`, or set "
        "`ssh: {host_key_policy: accept-new}` in orc.yaml to trust hosts on first use",
    )


def _authenticate(
    host_name: str, endpoint: Endpoint, transport: paramiko.Transport, keyring: KeyRing, deadline: float
) -> None:
    transport.auth_timeout = max(_remaining(deadline), 2.0)
    keys, notes = keyring.candidates(endpoint)
    tried: list[str] = []
    for label, key in keys:
        try:
            transport.auth_publickey(endpoint.user, key)
        except paramiko.BadAuthenticationType as e:
            notes.append(f"the server allows only {', '.join(e.allowed_types)}")
            break
        except paramiko.AuthenticationException:
            tried.append(label)
            continue
        except (paramiko.SSHException, EOFError, OSError) as e:
            raise HostUnreachable(host_name, "network", f"connection lost during authentication: {e}") from e
        if transport.is_authenticated():
            return
    detail = f"tried {', '.join(tried)}" if tried else "no usable private key"
    if notes:
        detail += "; " + "; ".join(notes)
    raise AuthFailed(
        host_name,
        f"authentication as {endpoint.user!r} on {endpoint.hostname}:{endpoint.port} failed ({detail}). "
        "Check ansible_user and ansible_ssh_private_key_file in the inventory (or User / IdentityFile in "
        "~/.ssh/config) and that the public key is in the user's authorized_keys",
    )
