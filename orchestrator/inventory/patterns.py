"""Ansible host patterns: `all`, group and host names, `a:b` / `a,b` union, `a:&b` intersection, `a:!b`
exclusion, shell globs (`web*`, `db-[ab]`), regexes (`~web\\d+`) and subscripts (`web[0]`, `web[1:]`).

Terms are applied as Ansible applies them: every plain term first (in order), then every `&` term,
then every `!` term, so `!b:a` means the same as `a:!b`.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Sequence

from orchestrator.errors import ConfigError
from orchestrator.inventory.ranges import split_port

_SUBSCRIPT = re.compile(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$")
_TERM = re.compile(r"(?:[^\s:\[\]]|\[[^\]]*\])+")


def split_pattern(pattern: str) -> list[str]:
    """`a:b,c` -> [a, b, c]. A pattern that is one host address (IPv6, `host:port`) stays whole."""
    if "," in pattern:
        parts = pattern.split(",")
    elif split_port(pattern) is not None:
        parts = [pattern]
    else:
        parts = _TERM.findall(pattern)
    return [p.strip() for p in parts if p.strip()]


def order_terms(terms: Iterable[str]) -> list[str]:
    plain = [t for t in terms if t and t[0] not in "!&"]
    inter = [t for t in terms if t and t[0] == "&"]
    excl = [t for t in terms if t and t[0] == "!"]
    return (plain or ["all"]) + inter + excl


def _split_subscript(term: str) -> tuple[str, tuple[int, int | None] | None]:
    if term.startswith("~"):
        return term, None
    m = _SUBSCRIPT.match(term)
    if not m:
        return term, None
    expr, idx, start, _sep, end = m.groups()
    if idx is not None:
        return expr, (int(idx), None)
    return expr, (int(start), int(end) if end else -1)


def _apply_subscript(hosts: list[str], sub: tuple[int, int | None] | None, term: str) -> list[str]:
    if not hosts or sub is None:
        return hosts
    start, end = sub
    try:
        if end is None:
            return [hosts[start]]
        stop = len(hosts) - 1 if end == -1 else end
        picked = hosts[start : stop + 1]
    except IndexError:
        picked = []
    if not picked:
        raise ConfigError(f"host pattern {term!r}: no hosts match the subscript")
    return picked


def _matcher(expr: str) -> Callable[[str], bool]:
    try:
        rx = re.compile(expr[1:]) if expr.startswith("~") else re.compile(fnmatch.translate(expr))
    except re.error as e:
        raise ConfigError(f"host pattern {expr!r} is not a valid pattern: {e}") from None
    return lambda name: rx.match(name) is not None


class PatternMatcher:
    """Evaluate patterns against group names, host names and group membership. `host_names` is in the
    order hosts were first defined: the order in which globs and regexes match them, as in Ansible."""

    def __init__(
        self,
        host_names: Sequence[str],
        group_names: Sequence[str],
        group_hosts: Callable[[str], list[str]],
    ):
        self.host_names = list(host_names)
        self.known_hosts = set(host_names)
        self.group_names = list(group_names)
        self.group_hosts = group_hosts

    def select(self, pattern: str, strict: bool = False) -> list[str]:
        hosts: list[str] = []
        for term in order_terms(split_pattern(pattern)):
            if term in self.known_hosts:
                if term not in hosts:
                    hosts.append(term)
                continue
            matched = self._match_term(term[1:] if term[0] in "&!" else term, strict)
            if term[0] == "!":
                drop = set(matched)
                hosts = [h for h in hosts if h not in drop]
            elif term[0] == "&":
                keep = set(matched)
                hosts = [h for h in hosts if h in keep]
            else:
                seen = set(hosts)
                hosts.extend(h for h in matched if h not in seen)
        return hosts

    def _match_term(self, term: str, strict: bool) -> list[str]:
        expr, sub = _split_subscript(term)
        match = _matcher(expr)
        groups = [g for g in self.group_names if match(g)]
        results: list[str] = []
        for g in groups:
            results.extend(self.group_hosts(g))
        if not groups or expr.startswith("~") or any(c in expr for c in ".?*["):
            results.extend(h for h in self.host_names if match(h))
        results = list(dict.fromkeys(results))
        if not results and not groups and expr != "all" and strict:
            raise ConfigError(f"host pattern {term!r} matches no group and no host in the inventory")
        return _apply_subscript(results, sub, term)
