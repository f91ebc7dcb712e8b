"""known_hosts files: our own reader (plain, `[host]:port`, wildcard and hashed `|1|` entries, `@revoked`)
and an append-only writer. paramiko's HostKeys is not used: it drops lines it cannot parse and rewrites
the whole file when saving."""

from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
import hmac
import os
import re
import struct
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

# Host key algorithm names paramiko negotiates for each key type found in known_hosts.
ALGORITHMS_FOR_KEY_TYPE: dict[str, tuple[str, ...]] = {
    "ssh-ed25519": ("ssh-ed25519",),
    "ecdsa-sha2-nistp256": ("ecdsa-sha2-nistp256",),
    "ecdsa-sha2-nistp384": ("ecdsa-sha2-nistp384",),
    "ecdsa-sha2-nistp521": ("ecdsa-sha2-nistp521",),
    "ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"),
}


@dataclass(frozen=True)
class KnownKey:
    key_type: str
    blob: bytes  # the wire form of the public key (what `PKey.asbytes()` returns)
    source: str  # "file:line", for messages
    revoked: bool = False

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.blob)


def fingerprint(blob: bytes) -> str:
    """OpenSSH's SHA256 fingerprint of a public key blob."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def host_pattern(hostname: str, port: int) -> str:
    """How OpenSSH names a host in known_hosts: `host` on port 22, `[host]:port` otherwise."""
    return hostname if port == 22 else f"[{hostname}]:{port}"


def read_keys(files: Iterable[str | os.PathLike[str]], hostname: str, port: int) -> list[KnownKey]:
    """Every key any of `files` holds for `hostname` at `port` (missing files are skipped)."""
    name = host_pattern(hostname, port)
    found: list[KnownKey] = []
    for f in files:
        path = Path(f).expanduser()
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            continue
        for lineno, line in enumerate(text.splitlines(), 1):
            key = _parse_line(line, name, f"{path}:{lineno}")
            if key is not None:
                found.append(key)
    return found


def _parse_line(line: str, name: str, source: str) -> KnownKey | None:
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    fields = line.split()
    marker = None
    if fields[0].startswith("@"):
        marker, fields = fields[0], fields[1:]
    if marker not in (None, "@revoked") or len(fields) < 3:
        return None  # @cert-authority lines and malformed lines: not a key for this host
    patterns, key_type, data = fields[0], fields[1], fields[2]
    if not _matches(patterns, name):
        return None
    try:
        blob = base64.b64decode(data, validate=True)
    except binascii.Error:
        return None
    return KnownKey(key_type=key_type, blob=blob, source=source, revoked=marker == "@revoked")


def _matches(patterns: str, name: str) -> bool:
    matched = False
    for pattern in patterns.split(","):
        negated = pattern.startswith("!")
        pattern = pattern[1:] if negated else pattern
        if pattern.startswith("|1|"):
            hit = _hashed_matches(pattern, name)
        elif "*" in pattern or "?" in pattern:
            hit = _glob(pattern).fullmatch(name) is not None
        else:
            hit = pattern.lower() == name.lower()
        if hit and negated:
            return False
        matched = matched or hit
    return matched


def _hashed_matches(pattern: str, name: str) -> bool:
    try:
        _, _, salt_b64, digest_b64 = pattern.split("|", 3)
        salt = base64.b64decode(salt_b64)
        digest = base64.b64decode(digest_b64)
    except (ValueError, binascii.Error):
        return False
    mine = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return hmac.compare_digest(mine, digest)


def _glob(pattern: str) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.IGNORECASE)


def key_type_of(blob: bytes) -> str:
    """The key type named inside a public key blob (its first SSH string)."""
    if len(blob) < 4:
        return ""
    (n,) = struct.unpack(">I", blob[:4])
    return blob[4 : 4 + n].decode("ascii", errors="replace")


def allowed_algorithms(keys: Sequence[KnownKey]) -> set[str]:
    """Host key algorithms to offer for a host we already know: only those of its known key types, so a
    server offering another type is never mistaken for an unknown host (paramiko #518)."""
    algos: set[str] = set()
    for k in keys:
        if not k.revoked:
            algos.update(ALGORITHMS_FOR_KEY_TYPE.get(k.key_type, (k.key_type,)))
    return algos


class KnownHostsWriter:
    """Appends learned keys to one file: never rewrites or reorders what is there. Safe across threads
    (a lock) and processes (flock)."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path).expanduser()
        self._lock = threading.Lock()

    def append(self, hostname: str, port: int, key_type: str, blob: bytes) -> None:
        line = f"{host_pattern(hostname, port)} {key_type} {base64.b64encode(blob).decode()}\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                size = os.fstat(fd).st_size
                if size and not _ends_with_newline(self.path, size):
                    line = "\n" + line
                os.write(fd, line.encode())
            finally:
                os.close(fd)


def _ends_with_newline(path: Path, size: int) -> bool:
    with path.open("rb") as f:
        f.seek(size - 1)
        return f.read(1) == b"\n"
