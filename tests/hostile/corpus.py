"""A corpus of hostile and tricky strings, per field class (issue 13). Each class has at least 150
members, generated from a few families: option-like, shell metacharacters (the payloads would create
MARKER), Unicode (bidi, zero-width, BOM, combining, CJK, emoji), every control character, and
over-long values. Used by tests/unit/test_hostile_input.py and, in a slice, tests/e2e/test_hostile_e2e.py."""

from __future__ import annotations

import os

MARKER = f"/tmp/orc-hostile-marker-{os.getpid()}"

SHELL = [
    f"$(touch {MARKER})", f"`touch {MARKER}`", f"; touch {MARKER}", f"| touch {MARKER}",
    f"&& touch {MARKER}", f"|| touch {MARKER}", f"> {MARKER}", f"' ; touch {MARKER} ; '",
    f'" ; touch {MARKER} ; "', f"\ntouch {MARKER}\n", f"$IFS; touch {MARKER}", f"${{IFS}}touch${{IFS}}{MARKER}",
    f"a & touch {MARKER} &", f"<(touch {MARKER})", f"x\\; touch {MARKER}", f"*; touch {MARKER} #",
]
OPTIONS = ["-", "--", "-x", "--pid=host", "--volume=/:/h", "--privileged", "-v/:/h", "-e X=1", "--network=host",
           "-oProxyCommand=touch " + MARKER, "--entrypoint=sh", "-h", "--help", "-1", "--=x", "-rf"]
UNICODE = ["ünïcode", "名前", "\u202eevil", "a\u200bb", "\ufeffbom", "e\u0301", "💥", "\u2028line", "\u2029para",
           "ｆｕｌｌ", "ǅ", "\u00a0nbsp", "Ωmega", "\u0085nel", "Ⅻ", "\U0001f600x"]
CONTROL = [chr(i) for i in range(0, 32)] + ["\x7f"]
LONG = ["a" * 254, "a" * 300, "b" * 4096, "c." * 200, "x" * 70_000]
CONFIG = ["a\nglobal", "a\r\nb", "a#b", "a b", "a\tb", "name\n    stats socket /tmp/x level admin", "a;b", "a,b",
          "a=b", "a'b", 'a"b', "a\\b", "{{ x }}", "${x}", "a/b", "..", "."]


def _wrap(base: list[str], extra: list[str]) -> list[str]:
    return base + [f"a{s}z" for s in extra] + [f"{s}a" for s in extra]


def hostile(min_count: int = 150) -> list[str]:
    """Every family, each also embedded in and prefixed to an ordinary word; deduplicated, in order."""
    controls = [f"x{c}y" for c in CONTROL] + [f"{c}x" for c in CONTROL]
    items = _wrap(SHELL + OPTIONS + UNICODE + LONG + CONFIG, SHELL[:6] + UNICODE[:6] + CONFIG[:6]) + controls
    out = list(dict.fromkeys(s for s in items if s))
    assert len(out) >= min_count, len(out)
    return out


def every_byte_value() -> str:
    """Every character U+0001..U+00FF (its UTF-8 bytes are what arrives): the value a container must get
    byte-exact through env, args and a secret."""
    return "".join(chr(i) for i in range(1, 256))


def byte_strings() -> list[str]:
    """Env and arg values that must arrive byte-exact: each character 1..255 alone, in a word, at the end
    (a trailing carriage return is what docker's env file drops), and the hostile corpus without NUL."""
    singles = [chr(i) for i in range(1, 256)]
    worded = [f"a{chr(i)}b" for i in range(1, 256, 3)] + [f"v{chr(i)}" for i in (9, 10, 13, 32, 35, 92, 133)]
    rest = [s for s in hostile() if "\x00" not in s]
    return list(dict.fromkeys(singles + worded + rest + [every_byte_value(), "x" * 70_000 + "\r"]))


def bad_ports() -> list[object]:
    """Port values each of which some port field must refuse."""
    return ([-70000, -1, 0, 65536, 65537, 99999, 2**31, 2**63, 1.5, 80.0, True, False, None, "", "80", " 80",
             "http ", "-80", "0x50", "1e3", [], {}, [80], {"port": 80}]
            + list(range(65536, 65536 + 60)) + [-n for n in range(1, 61)] + [f"p{n}-" for n in range(40)])


def bad_node_ports() -> list[int]:
    """Node ports outside the default range 30000-32767."""
    return [22, 80, 443, 1, 8080, 29999, 32768, 40000, 65535] + list(range(1, 30000, 211)) + list(range(32768, 65536, 331))
