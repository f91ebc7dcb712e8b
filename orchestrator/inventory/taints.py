"""Host taints from the inventory: a `taints:` host or group var, a list of Kubernetes' `key=value:Effect`
strings (as `kubectl taint` takes them; the value may be left out: `key:Effect`)."""

from __future__ import annotations

from typing import Any

from orchestrator.labels import validate_label_key, validate_label_value

EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
HostTaint = tuple[str, str, str]  # (key, value, effect): the scheduler's Taint, without importing it here


def parse_taint(text: str) -> tuple[HostTaint | None, list[str]]:
    """One `key=value:Effect` string as (key, value, effect), or the errors that make it invalid."""
    spec, colon, effect = text.rpartition(":")
    if not colon:
        return None, ["must be key=value:Effect or key:Effect (Effect: " + ", ".join(EFFECTS) + ")"]
    key, _, value = spec.partition("=")
    errors = [f"key {key!r}: {e}" for e in validate_label_key(key)]
    errors += [f"value {value!r}: {e}" for e in validate_label_value(value)]
    if effect not in EFFECTS:
        errors.append(f"effect {effect!r} must be one of {', '.join(EFFECTS)}")
    return (None if errors else (key, value, effect)), errors


def parse_taints(value: Any) -> tuple[tuple[HostTaint, ...], list[str]]:
    """The `taints` var: its taints, or every error of every item (`taints[1]: "x": ...`)."""
    if value is None:
        return (), []
    if isinstance(value, str) or not isinstance(value, list):
        return (), [f"must be a list of key=value:Effect strings, got {type(value).__name__} {value!r}"]
    out: list[HostTaint] = []
    errors: list[str] = []
    seen: set[tuple[str, str]] = set()
    for i, item in enumerate(value):
        if not isinstance(item, str):
            errors.append(f"[{i}]: {item!r}: must be a string key=value:Effect")
            continue
        taint, errs = parse_taint(item)
        errors += [f"[{i}]: {item!r}: {e}" for e in errs]
        if taint is not None:
            if (taint[0], taint[2]) in seen:  # Kubernetes: one taint per key and effect
                errors.append(f"[{i}]: {item!r}: a taint with key {taint[0]!r} and effect {taint[2]} is already set")
            seen.add((taint[0], taint[2]))
            out.append(taint)
    return tuple(out), errors
