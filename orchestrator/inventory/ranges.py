"""Host patterns in inventory files, as Ansible reads them: `web[01:03]`, `db-[a:c]`, `n[0:10:2]`,
an optional `:port` suffix (`host:2222`, `[fe80::1]:2222`), ranges nested left to right."""

from __future__ import annotations

import ipaddress
import re
import string

_RANGE = r"\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]"
_NUM_RANGE = r"\[[0-9]+:[0-9]+(?::[0-9]+)?\]"
_HEX_RANGE = r"\[[0-9a-f]+:[0-9a-f]+(?::[0-9]+)?\]"
_LABEL = rf"(?:\w|{_RANGE})(?:[\w-]|{_RANGE})*(?<![_-])"
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$", re.I | re.UNICODE)
_IPV4_PART = rf"(?:[01]?[0-9]{{1,2}}|2[0-4][0-9]|25[0-5]|{_NUM_RANGE})"
_IPV4 = re.compile(rf"^(?:{_IPV4_PART}\.){{3}}{_IPV4_PART}$", re.I)
_BRACKETED_PORT = re.compile(r"^\[(.+)\]:([0-9]+)$")
_HOST_PORT = re.compile(r"^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$")
_HEX_RANGE_RE = re.compile(_HEX_RANGE, re.I)


def _is_ipv6(text: str) -> bool:
    """An IPv6 address, where any group may be a hex range (`fe80::[a:f]`)."""
    if ":" not in text:
        return False
    plain = _HEX_RANGE_RE.sub("0", text)
    try:
        ipaddress.IPv6Address(plain)
    except ValueError:
        return False
    return True


def split_port(pattern: str) -> tuple[str, int | None] | None:
    """(host, port) when `pattern` is a valid host identifier with an optional port, else None.

    A port follows a hostname or IPv4 address as `:NN`, or a bracketed anything as `[...]:NN`; a bare
    IPv6 address never carries a port (its colons are its own)."""
    address, port = pattern, None
    m = _BRACKETED_PORT.match(address)
    if m:
        address, port = m.group(1), int(m.group(2))
    m = _HOST_PORT.match(address)
    if m:
        address, port = m.group(1), int(m.group(2))
    if _IPV4.match(address) or _is_ipv6(address) or _HOSTNAME.match(address):
        return address, port
    return None


def expand_host_pattern(pattern: str) -> tuple[list[str], int | None]:
    """Host names and port from one inventory host entry. A pattern that is not a valid address is kept
    whole as a name (as Ansible does), but its ranges are still expanded."""
    parsed = split_port(pattern)
    name, port = parsed if parsed is not None else (pattern, None)
    names = expand_ranges(name) if "[" in name else [name]
    return names, port


def expand_ranges(name: str) -> list[str]:
    """Expand the first `[begin:end(:step)]` in `name`, then the rest recursively.

    Numeric bounds with a leading zero fix the width (`[01:10]`), so begin and end must be as wide;
    single letters give alphabetic ranges (`[a:c]`, ASCII order: lower case, then upper case).
    Raises ValueError (the caller adds file and line)."""
    head, sep, rest = name.partition("[")
    inner, sep2, tail = rest.partition("]")
    if not sep or not sep2:
        raise ValueError(
            f"host range in {name!r} is not closed: write it as name[begin:end] or name[begin:end:step]"
        )
    bounds = inner.split(":")
    if len(bounds) not in (2, 3):
        raise ValueError(f"host range [{inner}] in {name!r} must be begin:end or begin:end:step")
    beg, end = bounds[0] or "0", bounds[1]
    step_text = bounds[2] if len(bounds) == 3 else "1"
    if not end:
        raise ValueError(f"host range [{inner}] in {name!r} must give an end value")
    width = 0
    if beg[0] == "0" and len(beg) > 1:
        width = len(beg)
        if len(end) != width:
            raise ValueError(
                f"host range [{inner}] in {name!r}: begin and end must have the same width (e.g. [01:10])"
            )
    try:
        step = int(step_text)
    except ValueError:
        raise ValueError(f"host range [{inner}] in {name!r}: step {step_text!r} must be a number") from None
    if step <= 0:
        raise ValueError(f"host range [{inner}] in {name!r}: step must be a positive number")
    items: list[str]
    if beg in string.ascii_letters and end in string.ascii_letters:
        i_beg, i_end = string.ascii_letters.index(beg), string.ascii_letters.index(end)
        if i_beg > i_end:
            raise ValueError(f"host range [{inner}] in {name!r} must have begin <= end")
        items = list(string.ascii_letters[i_beg : i_end + 1 : step])
    else:
        try:
            numbers = range(int(beg), int(end) + 1, step)
        except ValueError:
            raise ValueError(
                f"host range [{inner}] in {name!r}: bounds must be numbers or single letters"
            ) from None
        items = [str(n).zfill(width) if width else str(n) for n in numbers]
    out: list[str] = []
    for item in items:
        host = f"{head}{item}{tail}"
        out.extend(expand_ranges(host) if "[" in host else [host])
    return out
