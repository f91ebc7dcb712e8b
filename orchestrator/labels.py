"""Labels and label selectors, as Kubernetes' k8s.io/apimachinery `labels.Parse` reads and matches them.

Grammar (comma = AND; whitespace between tokens is ignored):

    selector    := "" | requirement ("," requirement)*
    requirement := ["!"] KEY                          exists / does not exist
                 | KEY ("=" | "==" | "!=") [VALUE]      an absent VALUE means ""
                 | KEY ("in" | "notin") "(" [VALUE ("," VALUE)*] ")"
                 | KEY (">" | "<") INTEGER

A selector prints in canonical form (requirements sorted by key, set values sorted), and that form parses
back to an equal selector. Keys and values are checked with Kubernetes' label rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.quote import go_quote

__all__ = [
    "DNS1123_LABEL_MAX",
    "DOES_NOT_EXIST",
    "DOUBLE_EQUALS",
    "EQUALS",
    "EXISTS",
    "GREATER_THAN",
    "IN",
    "LESS_THAN",
    "NOT_EQUALS",
    "NOT_IN",
    "DNS1123_SUBDOMAIN_MAX",
    "LABEL_VALUE_MAX",
    "Requirement",
    "Selector",
    "SelectorError",
    "validate_dns1035_label",
    "validate_dns1123_label",
    "validate_dns1123_subdomain",
    "validate_label_key",
    "validate_label_selector",
    "validate_label_value",
    "validate_labels",
]

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
LABEL_VALUE_MAX = 63
_QUALIFIED_NAME_MAX = 63

_QNAME_FMT = "[A-Za-z0-9][-A-Za-z0-9_.]*[A-Za-z0-9]|[A-Za-z0-9]"
_QNAME_RE = re.compile(rf"(?:{_QNAME_FMT})")
_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_LABEL_RE = re.compile(_LABEL_FMT)
_SUBDOMAIN_FMT = rf"{_LABEL_FMT}(\.{_LABEL_FMT})*"
_SUBDOMAIN_RE = re.compile(_SUBDOMAIN_FMT)
_DNS1035_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_DNS1035_RE = re.compile(_DNS1035_FMT)

_QNAME_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
    "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    f"'{_LABEL_FMT}')"
)
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
    "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    f"'{_SUBDOMAIN_FMT}')"
)
_DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    f"validation is '{_DNS1035_FMT}')"
)


def _max_len(n: int) -> str:
    return f"must be no more than {n} characters"


def validate_dns1123_label(name: str) -> list[str]:
    """Errors for an RFC 1123 label (<= 63 chars of [a-z0-9-], alphanumeric at both ends); [] if valid."""
    errs = []
    if len(name) > DNS1123_LABEL_MAX:
        errs.append(_max_len(DNS1123_LABEL_MAX))
    if not _LABEL_RE.fullmatch(name):
        errs.append(_LABEL_MSG)
    return errs


def validate_dns1123_subdomain(name: str) -> list[str]:
    """Errors for an RFC 1123 subdomain (dot-separated labels, <= 253 chars); [] if valid."""
    errs = []
    if len(name) > DNS1123_SUBDOMAIN_MAX:
        errs.append(_max_len(DNS1123_SUBDOMAIN_MAX))
    if not _SUBDOMAIN_RE.fullmatch(name):
        errs.append(_SUBDOMAIN_MSG)
    return errs


def validate_dns1035_label(name: str) -> list[str]:
    """Errors for an RFC 1035 label (as Kubernetes requires for Service names); [] if valid."""
    errs = []
    if len(name) > DNS1123_LABEL_MAX:
        errs.append(_max_len(DNS1123_LABEL_MAX))
    if not _DNS1035_RE.fullmatch(name):
        errs.append(_DNS1035_MSG)
    return errs


def validate_label_key(key: str) -> list[str]:
    """Errors for a label key (a qualified name: optional DNS-1123 subdomain prefix and '/', then a name of
    at most 63 characters of [A-Za-z0-9-_.], alphanumeric at both ends); [] if valid."""
    if not isinstance(key, str):
        return ["must be a string"]
    parts = key.split("/")
    if len(parts) == 1:
        prefix, name = "", parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            return ["prefix part must be non-empty"]
    else:
        return [
            "a qualified name "
            + _QNAME_MSG
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    errs = [f"prefix part {e}" for e in validate_dns1123_subdomain(prefix)] if prefix else []
    if not name:
        errs.append("name part must be non-empty")
    else:
        if len(name) > _QUALIFIED_NAME_MAX:
            errs.append("name part " + _max_len(_QUALIFIED_NAME_MAX))
        if not _QNAME_RE.fullmatch(name):
            errs.append("name part " + _QNAME_MSG)
    return errs


def validate_label_value(value: str) -> list[str]:
    """Errors for a label value (may be empty; else <= 63 chars, like a qualified name part); [] if valid."""
    if not isinstance(value, str):
        return ["must be a string"]
    errs = []
    if len(value) > LABEL_VALUE_MAX:
        errs.append(_max_len(LABEL_VALUE_MAX))
    if value and not _QNAME_RE.fullmatch(value):
        errs.append(_VALUE_MSG)
    return errs


def _go_quote(value: Any) -> str:
    """A value as Go's %q / %v shows it in a field error (strings quoted, numbers bare)."""
    if isinstance(value, str):
        return go_quote(value)  # a line break or a bidi override in a key never breaks the error line
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def validate_labels(labels: Any, path: str = "metadata.labels") -> list[str]:
    """Errors for a label map, each as Kubernetes prints a field error: `<path>: Invalid value: "k": msg`."""
    if labels is None:
        return []
    if not isinstance(labels, Mapping):
        return [
            f"{path}: Invalid value: {_go_quote(str(labels))}: must be a map of string keys to string values"
        ]
    errs = []
    for k, v in labels.items():
        errs += [f"{path}: Invalid value: {_go_quote(k)}: {m}" for m in validate_label_key(k)]
        if not isinstance(v, str):
            errs.append(f"{path}: Invalid value: {_go_quote(v)}: label values must be strings (quote them)")
            continue
        errs += [f"{path}: Invalid value: {_go_quote(v)}: {m}" for m in validate_label_value(v)]
    return errs


class SelectorError(ValueError):
    """A selector string or LabelSelector object that is not valid; the message says where and why."""


# Operators, named as k8s.io/apimachinery/pkg/selection names them.
EQUALS, DOUBLE_EQUALS, NOT_EQUALS = "=", "==", "!="
IN, NOT_IN = "in", "notin"
EXISTS, DOES_NOT_EXIST = "exists", "!"
GREATER_THAN, LESS_THAN = "gt", "lt"
_OPERATORS = (EQUALS, DOUBLE_EQUALS, NOT_EQUALS, IN, NOT_IN, EXISTS, DOES_NOT_EXIST, GREATER_THAN, LESS_THAN)
_SHOW = {EQUALS: "=", DOUBLE_EQUALS: "==", NOT_EQUALS: "!=", GREATER_THAN: ">", LESS_THAN: "<"}


@dataclass(frozen=True, order=True)
class Requirement:
    """One condition on one label key. `values` is sorted and without duplicates."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    @classmethod
    def new(cls, key: str, operator: str, values: Any = ()) -> Requirement:
        """Build and validate as apimachinery's NewRequirement does; raises SelectorError."""
        vals = tuple(sorted(set(values)))
        errs = [f"key: Invalid value: {_go_quote(key)}: {m}" for m in validate_label_key(key)]
        if operator not in _OPERATORS:
            errs.append(f"operator: Unsupported value: {_go_quote(operator)}")
        elif operator in (IN, NOT_IN):
            if not vals:
                errs.append(
                    "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty"
                )
        elif operator in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS):
            if len(vals) != 1:
                errs.append("values: Invalid value: exact-match compatibility requires one single value")
        elif operator in (EXISTS, DOES_NOT_EXIST):
            if vals:
                errs.append("values: Invalid value: values set must be empty for exists and does not exist")
        else:
            if len(vals) != 1:
                errs.append("values: Invalid value: for 'Gt', 'Lt' operators, exactly one value is required")
            for v in vals:
                if not _is_int64(v):
                    errs.append(
                        f"values: Invalid value: {_go_quote(v)}: for 'Gt', 'Lt' operators, the value must be "
                        "an integer"
                    )
        if operator not in (GREATER_THAN, LESS_THAN):
            for v in vals:
                errs += [f"values: Invalid value: {_go_quote(v)}: {m}" for m in validate_label_value(v)]
        if errs:
            raise SelectorError("; ".join(errs))
        return cls(key, operator, vals)

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        has = self.key in labels
        if op in (IN, EQUALS, DOUBLE_EQUALS):
            return has and labels[self.key] in self.values
        if op in (NOT_IN, NOT_EQUALS):
            return not has or labels[self.key] not in self.values
        if op == EXISTS:
            return has
        if op == DOES_NOT_EXIST:
            return not has
        if not has or not _is_int64(labels[self.key]):
            return False
        have, want = int(labels[self.key]), int(self.values[0])
        return have > want if op == GREATER_THAN else have < want

    def __str__(self) -> str:
        if self.operator == EXISTS:
            return self.key
        if self.operator == DOES_NOT_EXIST:
            return "!" + self.key
        if self.operator in (IN, NOT_IN):
            return f"{self.key} {self.operator} ({','.join(self.values)})"
        return f"{self.key}{_SHOW[self.operator]}{self.values[0]}"


def _is_int64(text: str) -> bool:
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        return False
    return -(2**63) <= int(text) < 2**63


class Selector:
    """An AND of requirements on labels. Immutable, hashable, and equal when the canonical forms are."""

    __slots__ = ("_reqs",)

    def __init__(self, requirements: Any = ()):
        self._reqs: tuple[Requirement, ...] = tuple(sorted(set(requirements)))

    @classmethod
    def parse(cls, text: str) -> Selector:
        """Parse the Kubernetes selector syntax (`env=prod,tier in (fe,be),!canary`); "" matches all."""
        if not isinstance(text, str):
            raise SelectorError(f"a selector must be a string, not {type(text).__name__}")
        try:
            return cls(_Parser(text).parse())
        except SelectorError as e:
            raise SelectorError(f"unable to parse requirement: {e} (in selector {text!r})") from None

    @classmethod
    def everything(cls) -> Selector:
        return cls()

    @classmethod
    def from_dict(cls, match_labels: Mapping[str, str] | None) -> Selector:
        """Equality requirements, one per key (as an RC's `spec.selector` or a Service's selector)."""
        return cls(Requirement.new(k, EQUALS, (v,)) for k, v in (match_labels or {}).items())

    @classmethod
    def from_label_selector(cls, obj: Mapping[str, Any] | None) -> Selector:
        """A Kubernetes LabelSelector (`matchLabels`, `matchExpressions` with In/NotIn/Exists/DoesNotExist).
        None or {} selects everything. Raises SelectorError naming every problem."""
        errs = validate_label_selector(obj, "")
        if errs:
            raise SelectorError("; ".join(errs))
        obj = obj or {}
        reqs = [Requirement.new(k, EQUALS, (v,)) for k, v in (obj.get("matchLabels") or {}).items()]
        for expr in obj.get("matchExpressions") or []:
            op = _EXPR_OPS[expr["operator"]]
            reqs.append(Requirement.new(expr["key"], op, expr.get("values") or ()))
        return cls(reqs)

    @property
    def requirements(self) -> tuple[Requirement, ...]:
        return self._reqs

    @property
    def empty(self) -> bool:
        """True when there are no requirements, so everything matches."""
        return not self._reqs

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self._reqs)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self._reqs)

    def __repr__(self) -> str:
        return f"Selector({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Selector) and self._reqs == other._reqs

    def __hash__(self) -> int:
        return hash(self._reqs)


_EXPR_OPS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}


def validate_label_selector(obj: Any, path: str) -> list[str]:
    """Errors for a LabelSelector object, as Kubernetes field errors under `path` (e.g. `spec.selector`)."""
    pre = f"{path}." if path else ""
    if obj is None:
        return []
    if not isinstance(obj, Mapping):
        return [f"{path or 'selector'}: Invalid value: {_go_quote(str(obj))}: must be a LabelSelector object"]
    errs = [
        f"{pre}{k}: Forbidden: unknown field {_go_quote(k)} (a LabelSelector has matchLabels and matchExpressions)"
        for k in obj
        if k not in ("matchLabels", "matchExpressions")
    ]
    errs += validate_labels(obj.get("matchLabels"), f"{pre}matchLabels")
    exprs = obj.get("matchExpressions") or []
    if not isinstance(exprs, list):
        return [*errs, f"{pre}matchExpressions: Invalid value: {_go_quote(str(exprs))}: must be a list"]
    for i, expr in enumerate(exprs):
        p = f"{pre}matchExpressions[{i}]"
        if not isinstance(expr, Mapping):
            errs.append(
                f"{p}: Invalid value: {_go_quote(str(expr))}: must be an object with key and operator"
            )
            continue
        errs += [
            f"{p}.{k}: Forbidden: unknown field {_go_quote(k)}"
            for k in expr
            if k not in ("key", "operator", "values")
        ]
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values")
        if key is None or key == "":
            errs.append(f"{p}.key: Required value")
        else:
            errs += [f"{p}.key: Invalid value: {_go_quote(key)}: {m}" for m in validate_label_key(key)]
        if values is not None and not (isinstance(values, list) and all(isinstance(v, str) for v in values)):
            errs.append(f"{p}.values: Invalid value: {_go_quote(str(values))}: must be a list of strings")
            continue
        if op in ("In", "NotIn"):
            if not values:
                errs.append(
                    f"{p}.values: Required value: must be specified when `operator` is 'In' or 'NotIn'"
                )
        elif op in ("Exists", "DoesNotExist"):
            if values:
                errs.append(
                    f"{p}.values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
                )
        elif op is None:
            errs.append(f"{p}.operator: Required value")
        else:
            errs.append(
                f'{p}.operator: Unsupported value: {_go_quote(op)}: supported values: "DoesNotExist", '
                '"Exists", "In", "NotIn"'
            )
        for v in values or []:
            errs += [f"{p}.values: Invalid value: {_go_quote(v)}: {m}" for m in validate_label_value(v)]
    return errs


# --- the lexer and parser (a port of apimachinery's, token for token) ---

_SPECIAL = set("=!(),><")
_WHITESPACE = set(" \t\r\n")
_SYMBOLS = {"!": "not", "!=": "!=", "(": "(", ")": ")", ",": ",", "=": "=", "==": "==", ">": ">", "<": "<"}
_IDENT, _END = "ident", "end"


def _lex(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _WHITESPACE:
            i += 1
        elif ch in _SPECIAL:
            j = i + 1
            while j < n and text[i : j + 1] in _SYMBOLS:
                j += 1
            lit = text[i:j]
            tokens.append((_SYMBOLS[lit], lit))
            i = j
        else:
            j = i
            while j < n and text[j] not in _SPECIAL and text[j] not in _WHITESPACE:
                j += 1
            lit = text[i:j]
            tokens.append((lit if lit in ("in", "notin") else _IDENT, lit))
            i = j
    tokens.append((_END, ""))
    return tokens


class _Parser:
    def __init__(self, text: str):
        self.tokens = _lex(text)
        self.pos = 0

    def _peek(self, values: bool = True) -> tuple[str, str]:
        tok, lit = self.tokens[self.pos]
        # In value context the keywords `in` / `notin` are plain identifiers.
        if values and tok in ("in", "notin"):
            tok = _IDENT
        return tok, lit

    def _next(self, values: bool = True) -> tuple[str, str]:
        t = self._peek(values)
        if self.pos < len(self.tokens) - 1:
            self.pos += 1
        return t

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            tok, lit = self._peek()
            if tok == _END:
                return reqs
            if tok not in (_IDENT, "not"):
                raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")
            reqs.append(self._requirement())
            tok, lit = self._next()
            if tok == _END:
                return reqs
            if tok != ",":
                raise SelectorError(f"found '{lit}', expected: ',' or 'end of string'")
            tok2, lit2 = self._peek()
            if tok2 not in (_IDENT, "not"):
                raise SelectorError(f"found '{lit2}', expected: identifier after ','")

    def _requirement(self) -> Requirement:
        negated = False
        tok, lit = self._next()
        if tok == "not":
            negated = True
            tok, lit = self._next()
        if tok != _IDENT:
            raise SelectorError(f"found '{lit}', expected: identifier")
        key = lit
        errs = validate_label_key(key)
        if errs:
            raise SelectorError(f"invalid label key {key!r}: {'; '.join(errs)}")
        if self._peek()[0] in (_END, ","):
            return Requirement.new(key, DOES_NOT_EXIST if negated else EXISTS)
        if negated:
            raise SelectorError(f"found '{self._peek()[1]}', expected: ',' or 'end of string'")
        tok, lit = self._next(values=False)
        ops = {"in": IN, "notin": NOT_IN, "=": EQUALS, "==": DOUBLE_EQUALS, "!=": NOT_EQUALS}
        ops |= {">": GREATER_THAN, "<": LESS_THAN}
        if tok not in ops:
            raise SelectorError(f"found '{lit}', expected: in, notin, =, ==, !=, gt, lt")
        op = ops[tok]
        values = self._set_values() if op in (IN, NOT_IN) else self._exact_value()
        return Requirement.new(key, op, values)

    def _exact_value(self) -> set[str]:
        tok, _ = self._peek()
        if tok in (_END, ","):
            return {""}
        tok, lit = self._next()
        if tok == _IDENT:
            return {lit}
        raise SelectorError(f"found '{lit}', expected: identifier")

    def _set_values(self) -> set[str]:
        tok, lit = self._next()
        if tok != "(":
            raise SelectorError(f"found '{lit}' expected: '('")
        tok, lit = self._peek()
        if tok == ")":
            self._next()
            return {""}
        if tok not in (_IDENT, ","):
            raise SelectorError(f"found '{lit}', expected: ',', ')' or identifier")
        values: set[str] = set()
        while True:
            tok, lit = self._next()
            if tok == _IDENT:
                values.add(lit)
                tok2, lit2 = self._peek()
                if tok2 == ")":
                    self._next()
                    return values
                if tok2 != ",":
                    raise SelectorError(f"found '{lit2}', expected: ',' or ')'")
            elif tok == ",":
                if not values:
                    values.add("")  # "(,a)"
                tok2, _ = self._peek()
                if tok2 == ")":
                    self._next()
                    values.add("")  # "(a,)"
                    return values
                if tok2 == ",":
                    self._next()
                    values.add("")  # "(a,,b)"
            else:
                raise SelectorError(f"found '{lit}', expected: ',', or identifier")
