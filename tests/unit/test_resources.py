"""Quantities as Kubernetes' resource.Quantity parses them (cases from the Kubernetes docs and quantity_test)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.resources import (
    QuantityError,
    cpu_millis,
    format_cpu,
    format_memory,
    format_quantity,
    parse_quantity,
    to_bytes,
)

GOOD = [
    ("0", "0"),
    ("1", "1"),
    ("500m", "0.5"),
    ("0.5", "0.5"),
    (".5", "0.5"),
    ("5.", "5"),
    ("+1", "1"),
    ("100m", "0.1"),
    ("1n", "0.000000001"),
    ("1u", "0.000001"),
    ("2k", "2000"),
    ("1M", "1000000"),
    ("1G", "1000000000"),
    ("1T", "1000000000000"),
    ("1P", "1000000000000000"),
    ("1E", "1000000000000000000"),
    ("1Ki", "1024"),
    ("128Mi", "134217728"),
    ("1.5Gi", "1610612736"),
    ("1Ti", str(2**40)),
    ("1Pi", str(2**50)),
    ("1Ei", str(2**60)),
    ("129e6", "129000000"),
    ("1e3", "1000"),
    ("1E3", "1000"),
    ("1e-3", "0.001"),
    ("1.5e3", "1500"),
    ("123Mi", "128974848"),
    ("0.1", "0.1"),
    ("12345678901234567890", "12345678901234567890"),
    (2, "2"),
    (0.25, "0.25"),
    (Decimal("1.5"), "1.5"),
]


@pytest.mark.parametrize(("text", "value"), GOOD)
def test_parse_good(text, value):
    assert parse_quantity(text) == Decimal(value)


BAD = [
    "",
    " ",
    "1 Gi",
    "Gi",
    "1.2.3",
    "1e",
    "1ee3",
    ".",
    "e3",
    "1Gb",
    "1gi",
    "1K",
    "abc",
    "1i",
    "--1",
    "1e3.5",
    "1Mi ",
    "0x10",
    "1,5",
]


@pytest.mark.parametrize("text", BAD)
def test_parse_bad(text):
    with pytest.raises(QuantityError) as e:
        parse_quantity(text)
    assert repr(text) in str(e.value)
    assert "e.g. 500m" in str(e.value)


@pytest.mark.parametrize("value", [None, True, [1], float("nan"), float("inf")])
def test_parse_bad_types(value):
    with pytest.raises(QuantityError):
        parse_quantity(value)  # type: ignore[arg-type]


def test_negative_rejected_unless_allowed():
    with pytest.raises(QuantityError, match="must be greater than or equal to 0"):
        parse_quantity("-1")
    with pytest.raises(QuantityError, match="must be greater than or equal to 0"):
        parse_quantity(-5)
    assert parse_quantity("-500m", allow_negative=True) == Decimal("-0.5")
    assert parse_quantity("-0") == 0


def test_quantity_error_is_value_error():
    assert issubclass(QuantityError, ValueError)


@pytest.mark.parametrize(
    ("text", "millis"),
    [
        ("1", 1000),
        ("500m", 500),
        ("0.5", 500),
        ("1.5", 1500),
        ("0.0001", 1),
        ("1n", 1),
        ("0", 0),
        ("100m", 100),
        ("2.0001", 2001),
        (3, 3000),
        ("1k", 1000000),
    ],
)
def test_cpu_millis_rounds_up(text, millis):
    assert cpu_millis(text) == millis


@pytest.mark.parametrize(
    ("text", "nbytes"),
    [("128Mi", 134217728), ("1G", 10**9), ("1.5Ki", 1536), ("1m", 1), ("0.5", 1), ("1e3", 1000), ("0", 0)],
)
def test_to_bytes_rounds_up(text, nbytes):
    assert to_bytes(text) == nbytes


@pytest.mark.parametrize(
    ("value", "binary", "text"),
    [
        (Decimal("0.5"), None, "500m"),
        (Decimal("0.1"), None, "100m"),
        (2, None, "2"),
        (134217728, None, "128Mi"),
        (134217728, True, "128Mi"),
        (10**9, None, "1G"),
        (10**9, False, "1G"),
        (1536, None, "1536"),  # 1.5Ki is not an integer of Ki; decimal gives no shorter exact form
        (1536, True, "1536"),
        (1024, False, "1024"),
        (2000, False, "2k"),
        (Decimal("0.000001"), None, "1u"),
        (Decimal("1.5"), None, "1500m"),
        (0, None, "0"),
        (Decimal("-0.5"), None, "-500m"),
        (Decimal("1e-12"), None, "1n"),
    ],
)
def test_format_quantity(value, binary, text):
    assert format_quantity(value, binary=binary) == text


def test_format_helpers():
    assert format_cpu(2000) == "2"
    assert format_cpu(500) == "500m"
    assert format_cpu(0) == "0"
    assert format_memory(134217728) == "128Mi"
    assert format_memory(1000) == "1000"


_quantity = st.builds(
    lambda n, s: f"{n}{s}",
    st.one_of(st.integers(0, 10**6).map(str), st.decimals(0, 10**4, places=3).map(str)),
    st.sampled_from(["", "m", "k", "M", "G", "Ki", "Mi", "Gi", "e3", "e-2"]),
)


@given(_quantity)
def test_format_round_trips_exactly(text):
    value = parse_quantity(text)
    assert parse_quantity(format_quantity(value)) == value or value.scaleb(9) % 1 != 0


@given(_quantity)
def test_rounding_is_never_below_the_value(text):
    value = parse_quantity(text)
    assert cpu_millis(text) >= value * 1000 > cpu_millis(text) - 1
    assert to_bytes(text) >= value > to_bytes(text) - 1
