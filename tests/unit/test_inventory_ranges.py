from __future__ import annotations

import pytest

from orchestrator.inventory.ranges import expand_host_pattern, expand_ranges, split_port


@pytest.mark.parametrize(
    ("pattern", "names"),
    [
        ("node[01:03]", ["node01", "node02", "node03"]),
        ("node[1:3]", ["node1", "node2", "node3"]),
        ("db-[a:c]", ["db-a", "db-b", "db-c"]),
        ("n[0:10:2]", ["n0", "n2", "n4", "n6", "n8", "n10"]),
        ("n[:2]", ["n0", "n1", "n2"]),
        ("r[1:2]-n[a:b]", ["r1-na", "r1-nb", "r2-na", "r2-nb"]),
        ("web[8:10].example.com", ["web8.example.com", "web9.example.com", "web10.example.com"]),
        ("x[y:B]", ["xy", "xz", "xA", "xB"]),  # ASCII letters: lower case, then upper case
    ],
)
def test_ranges_expand_like_ansible(pattern: str, names: list[str]) -> None:
    assert expand_ranges(pattern) == names


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("n[01:100]", "same width"),
        ("n[1]", "begin:end"),
        ("n[1:]", "end value"),
        ("n[c:a]", "begin <= end"),
        ("n[1:x]", "numbers or single letters"),
        ("n[1:3:0]", "positive"),
        ("n[1:3", "not closed"),
    ],
)
def test_bad_ranges_say_what_is_wrong(pattern: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        expand_ranges(pattern)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("web1", ("web1", None)),
        ("web1:2222", ("web1", 2222)),
        ("10.0.0.1:22", ("10.0.0.1", 22)),
        ("[fe80::1]:2200", ("fe80::1", 2200)),
        ("fe80::1:22", ("fe80::1:22", None)),  # a bare IPv6 address has no port
        ("web[01:03]:2222", ("web[01:03]", 2222)),
        ("[web1]:2222", ("web1", 2222)),
    ],
)
def test_split_port(pattern: str, expected: tuple[str, int | None]) -> None:
    assert split_port(pattern) == expected


def test_invalid_address_is_kept_whole_as_a_name() -> None:
    assert split_port("bad_:22") is None
    assert expand_host_pattern("bad_:22") == (["bad_:22"], None)


def test_pattern_with_port_and_range() -> None:
    assert expand_host_pattern("db[1:2].lan:5432") == (["db1.lan", "db2.lan"], 5432)
