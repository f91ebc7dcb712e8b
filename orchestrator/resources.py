"""Kubernetes resource quantities (`500m`, `0.5`, `128Mi`, `1G`, `1e3`, `1.5Gi`), as resource.Quantity reads
them, held as exact Decimals.

    quantity  := [+-] number [suffix]
    number    := digits | digits "." [digits] | "." digits
    suffix    := binarySI (Ki Mi Gi Ti Pi Ei) | decimalSI (n u m "" k M G T P E) | ("e" | "E") [+-] digits
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation, localcontext

__all__ = [
    "QuantityError",
    "cpu_millis",
    "format_cpu",
    "format_memory",
    "format_quantity",
    "parse_quantity",
    "to_bytes",
]

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_RE = re.compile(
    r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<binary>Ki|Mi|Gi|Ti|Pi|Ei)|[eE](?P<exp>[+-]?[0-9]+)|(?P<decimal>[numkMGTPE]?))"
)
_HELP = "use a number with an optional suffix, e.g. 500m, 0.5, 2, 128Mi, 1.5Gi, 1G, 1e3"


class QuantityError(ValueError):
    """A string that is not a Kubernetes quantity, or a negative one where only amounts make sense."""


def parse_quantity(text: str | int | float | Decimal, *, allow_negative: bool = False) -> Decimal:
    """The exact value of a quantity (`"500m"` -> Decimal("0.5"), `"1Ki"` -> Decimal(1024)).

    Negative quantities are rejected unless allow_negative (resource amounts never are)."""
    if isinstance(text, bool):
        raise QuantityError(f"quantity {text!r} is a boolean; {_HELP}")
    if isinstance(text, int):
        value = Decimal(text)
    elif isinstance(text, float):
        if not math.isfinite(text):
            raise QuantityError(f"quantity {text!r} is not a finite number; {_HELP}")
        value = Decimal(repr(text))
    elif isinstance(text, Decimal):
        if not text.is_finite():
            raise QuantityError(f"quantity {text!r} is not a finite number; {_HELP}")
        value = text
    elif isinstance(text, str):
        m = _RE.fullmatch(text)
        if not m:
            reason = "is empty" if not text else "is not a valid quantity"
            raise QuantityError(f"quantity {text!r} {reason}; {_HELP}")
        number = Decimal(m["number"])
        with localcontext() as ctx:
            ctx.prec = 200
            if m["binary"]:
                value = number * _BINARY[m["binary"]]
            else:
                exp = int(m["exp"]) if m["exp"] is not None else _DECIMAL[m["decimal"]]
                if abs(exp) > 1000:
                    raise QuantityError(f"quantity {text!r} has an exponent out of range; {_HELP}")
                try:
                    value = number.scaleb(exp)
                except InvalidOperation as e:  # pragma: no cover - guarded by the range check
                    raise QuantityError(f"quantity {text!r} is out of range") from e
    else:
        raise QuantityError(f"quantity must be a string or a number, not {type(text).__name__}; {_HELP}")
    if value < 0 and not allow_negative:
        raise QuantityError(f"quantity {text!r} must be greater than or equal to 0")
    return value


def _ceil(value: Decimal) -> int:
    return int(value.to_integral_value(rounding="ROUND_CEILING"))


def cpu_millis(q: str | int | float | Decimal) -> int:
    """CPU in millicores, rounded up to 1m as Kubernetes does (`"0.0001"` -> 1, `"1.5"` -> 1500)."""
    return _ceil(parse_quantity(q) * 1000)


def to_bytes(q: str | int | float | Decimal) -> int:
    """Bytes (or any count), rounded up to a whole unit (`"1.5Ki"` -> 1536, `"1m"` -> 1)."""
    return _ceil(parse_quantity(q))


def format_quantity(q: str | int | float | Decimal, *, binary: bool | None = None) -> str:
    """A short exact form: the largest suffix that keeps an integer (`Decimal("0.5")` -> "500m",
    `134217728` -> "128Mi" when binary, `1000000000` -> "1G" when decimal).

    binary=None picks binary suffixes when they give an exact integer of at least 1Ki, else decimal."""
    value = parse_quantity(q, allow_negative=True)
    if value == 0:
        return "0"
    sign, mag = ("-", -value) if value < 0 else ("", value)
    if binary is not False and mag == mag.to_integral_value():
        for suffix, factor in reversed(_BINARY.items()):
            if mag >= factor and mag % factor == 0:
                return f"{sign}{int(mag // factor)}{suffix}"
        if binary:
            return f"{sign}{int(mag)}"
    for suffix, exp in sorted(_DECIMAL.items(), key=lambda kv: -kv[1]):
        scaled = mag.scaleb(-exp)
        if scaled == scaled.to_integral_value() and scaled >= 1:
            return f"{sign}{int(scaled)}{suffix}"
    # Finer than a nanounit: round up to 1n as Kubernetes does.
    return f"{sign}{_ceil(mag.scaleb(9))}n"


def format_cpu(millis: int) -> str:
    """Millicores as people write them: 2000 -> "2", 500 -> "500m"."""
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def format_memory(nbytes: int) -> str:
    """Bytes with the largest exact binary suffix: 134217728 -> "128Mi", 1000 -> "1000"."""
    return format_quantity(nbytes, binary=True)
