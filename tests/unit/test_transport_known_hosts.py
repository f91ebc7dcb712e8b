"""Our known_hosts reader and append-only writer."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from pathlib import Path

from orchestrator.transport.known_hosts import (
    KnownHostsWriter,
    allowed_algorithms,
    fingerprint,
    host_pattern,
    key_type_of,
    read_keys,
)


def blob(key_type: str, payload: bytes = b"k") -> bytes:
    name = key_type.encode()
    return len(name).to_bytes(4, "big") + name + len(payload).to_bytes(4, "big") + payload


def line(names: str, key_type: str, payload: bytes = b"k", marker: str = "") -> str:
    b64 = base64.b64encode(blob(key_type, payload)).decode()
    return f"{marker + ' ' if marker else ''}{names} {key_type} {b64}\n"


def hashed(name: str, salt: bytes = b"0123456789abcdefghij") -> str:
    digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"


def test_host_pattern_uses_brackets_only_off_port_22() -> None:
    assert host_pattern("web1", 22) == "web1"
    assert host_pattern("10.0.0.1", 2222) == "[10.0.0.1]:2222"


def test_plain_bracketed_hashed_and_wildcard_entries_match(tmp_path: Path) -> None:
    f = tmp_path / "known_hosts"
    f.write_text(
        "# comment\n\n"
        + line("web1,10.0.0.1", "ssh-ed25519", b"a")
        + line("[web1]:2222", "ssh-ed25519", b"b")
        + line(hashed("web2"), "ecdsa-sha2-nistp256", b"c")
        + line("*.example.org,!bad.example.org", "ssh-rsa", b"d")
        + "garbage\n"
        + line("@cert-authority *", "ssh-ed25519", b"ca")
    )
    assert [k.blob for k in read_keys([f], "web1", 22)] == [blob("ssh-ed25519", b"a")]
    assert [k.blob for k in read_keys([f], "WEB1", 2222)] == [blob("ssh-ed25519", b"b")]
    assert [k.key_type for k in read_keys([f], "web2", 22)] == ["ecdsa-sha2-nistp256"]
    assert read_keys([f], "web2", 2222) == []
    assert [k.key_type for k in read_keys([f], "a.example.org", 22)] == ["ssh-rsa"]
    assert read_keys([f], "bad.example.org", 22) == []
    assert read_keys([f, tmp_path / "missing"], "nobody", 22) == []
    assert read_keys([f], "web1", 22)[0].source == f"{f}:3"


def test_revoked_entries_are_flagged_and_offer_no_algorithm(tmp_path: Path) -> None:
    f = tmp_path / "known_hosts"
    f.write_text(line("web1", "ssh-rsa", marker="@revoked") + line("web1", "ssh-ed25519"))
    keys = read_keys([f], "web1", 22)
    assert [(k.key_type, k.revoked) for k in keys] == [("ssh-rsa", True), ("ssh-ed25519", False)]
    assert allowed_algorithms(keys) == {"ssh-ed25519"}


def test_allowed_algorithms_map_rsa_to_its_signature_algorithms(tmp_path: Path) -> None:
    f = tmp_path / "known_hosts"
    f.write_text(line("web1", "ssh-rsa"))
    assert allowed_algorithms(read_keys([f], "web1", 22)) == {"rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"}


def test_key_type_and_fingerprint_match_openssh_format() -> None:
    b = blob("ssh-ed25519", b"x" * 32)
    assert key_type_of(b) == "ssh-ed25519"
    expected = base64.b64encode(hashlib.sha256(b).digest()).decode().rstrip("=")
    assert fingerprint(b) == "SHA256:" + expected


def test_writer_appends_without_touching_existing_lines(tmp_path: Path) -> None:
    f = tmp_path / "sub" / "known_hosts"
    writer = KnownHostsWriter(f)
    writer.append("10.0.0.1", 2222, "ssh-ed25519", blob("ssh-ed25519", b"a"))
    assert f.stat().st_mode & 0o777 == 0o600
    f.write_text(f.read_text() + "weird line paramiko would drop")  # no trailing newline
    writer.append("web1", 22, "ssh-ed25519", blob("ssh-ed25519", b"b"))
    lines = f.read_text().splitlines()
    assert lines[0].startswith("[10.0.0.1]:2222 ssh-ed25519 ")
    assert lines[1] == "weird line paramiko would drop"
    assert lines[2].startswith("web1 ssh-ed25519 ")
    assert [k.blob for k in read_keys([f], "web1", 22)] == [blob("ssh-ed25519", b"b")]
    assert os.access(f, os.R_OK)
