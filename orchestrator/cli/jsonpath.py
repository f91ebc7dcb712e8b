"""kubectl's JSONPath templates (`-o jsonpath=...`, custom-columns, --sort-by), as client-go reads them:
text outside `{...}` is printed as it is; `{.path}` prints what the path finds (several results separated by
one space; strings bare, maps and lists as JSON); `{range .items[*]}...{end}` repeats its body for each
result, with `.` and `@` standing for the current one; `{"\\n"}` and `{'\\t'}` are literals with escapes.
A path may use `\\.` inside a field name (`{.metadata.labels.app\\.kubernetes\\.io/name}`), `[*]`, `[0]`,
`[1:3]`, `[-1:]`, `['a','b']`, `..name` and filters (`[?(@.status.phase=="Running")]`).

    template = parse('{range .items[*]}{.metadata.name}{"\\n"}{end}')
    text = template.render(document)

The paths themselves are evaluated by python-jsonpath (an RFC 9535 JSONPath with the filter syntax kubectl
uses); no Python library speaks kubectl's template layer (`range`/`end`, literals, kubectl's field-name
escapes and its way of printing results), so that layer is here. Paths are translated into bracket
notation first, because kubectl's field names (`app-name`, `kubernetes.io/hostname`) are not RFC 9535
shorthand names. Imported only when a command asks for JSONPath (python-jsonpath costs ~60 ms to import).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_RANGE = re.compile(r"range(?![A-Za-z0-9_-])")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "0": "\0"}


class JSONPathError(ValueError):
    """A template that cannot be parsed or a path that cannot be evaluated; the message says where."""


@dataclass
class _Node:
    kind: str  # text | path | range
    text: str = ""
    body: list[_Node] = field(default_factory=list)
    query: Any = None
    root: bool = False  # the path starts at the document's root ($), not the current item


def _unquote(text: str, where: str) -> str:
    out = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt not in _ESCAPES:
                raise JSONPathError(f"{where}: unknown escape \\{nxt} in a quoted string")
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _bracket(text: str, start: int) -> int:
    """The index just past the `]` closing the bracket that opens at `start` (quotes and parentheses aware)."""
    depth, quote, i = 0, "", start
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise JSONPathError(f"unclosed bracket in {text!r}")


def _name(text: str, start: int) -> tuple[str, int]:
    """A field name from `start` up to the next unescaped `.` or `[`."""
    out, i = [], start
    while i < len(text) and text[i] not in ".[":
        if text[i] == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        out.append(text[i])
        i += 1
    return "".join(out), i


def translate(path: str) -> tuple[str, bool]:
    """kubectl's path -> (an RFC 9535 query in bracket notation, whether it starts at the root)."""
    text = path.strip()
    root = text.startswith("$")
    if text[:1] in "$@":
        text = text[1:]
    out = ["$"]
    i = 0
    if text and text[0] not in ".[":
        text = "." + text  # kubectl reads {items} as {.items}
    while i < len(text):
        if text.startswith("..", i):
            i += 2
            if i < len(text) and text[i] == "[":
                end = _bracket(text, i)
                out.append(".." + text[i:end])
                i = end
            else:
                name, i = _name(text, i)
                out.append("..[*]" if name == "*" else f"..[{json.dumps(name)}]")
        elif text[i] == ".":
            name, i = _name(text, i + 1)
            if name == "*":
                out.append("[*]")
            elif name:
                out.append(f"[{json.dumps(name)}]")
        elif text[i] == "[":
            end = _bracket(text, i)
            out.append(text[i:end])
            i = end
        else:
            raise JSONPathError(f"unexpected {text[i]!r} in {path!r}")
    return "".join(out), root


def _compile(path: str) -> tuple[Any, bool]:
    import jsonpath as jp  # python-jsonpath, imported only when asked for

    query, root = translate(path)
    try:
        return jp.compile(query), root
    except jp.JSONPathError as e:
        raise JSONPathError(f"error parsing jsonpath {path!r}: {e}") from None


def _actions(template: str) -> list[tuple[str, str]]:
    """("text", literal) and ("action", inside the braces) pieces, in order."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(template):
        start = template.find("{", i)
        if start < 0:
            out.append(("text", template[i:]))
            break
        if start > i:
            out.append(("text", template[i:start]))
        j, quote, depth = start + 1, "", 1
        while j < len(template):
            ch = template[j]
            if quote:
                if ch == "\\":
                    j += 1
                elif ch == quote:
                    quote = ""
            elif ch in "'\"":
                quote = ch
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        if j >= len(template):
            raise JSONPathError(f"error parsing jsonpath {template!r}: unclosed action (a '{{' without '}}')")
        out.append(("action", template[start + 1 : j].strip()))
        i = j + 1
    return out


def _literal(action: str) -> str | None:
    if len(action) >= 2 and action[0] == action[-1] and action[0] in "'\"":
        return _unquote(action[1:-1], action)
    return None


def _parse(pieces: list[tuple[str, str]], template: str) -> list[_Node]:
    stack: list[list[_Node]] = [[]]
    for kind, text in pieces:
        if kind == "text":
            stack[-1].append(_Node("text", text))
            continue
        literal = _literal(text)
        if literal is not None:
            stack[-1].append(_Node("text", literal))
        elif text == "end":
            if len(stack) == 1:
                raise JSONPathError(f"error parsing jsonpath {template!r}: {{end}} without {{range}}")
            body = stack.pop()
            stack[-1][-1].body = body
        elif _RANGE.match(text):  # `{range .items[*]}`, or `{range.items[*]}` as kubectl also reads it
            query, root = _compile(text[5:].strip() or "@")
            stack[-1].append(_Node("range", query=query, root=root))
            stack.append([])
        elif text:
            query, root = _compile(text)
            stack[-1].append(_Node("path", text, query=query, root=root))
    if len(stack) > 1:
        raise JSONPathError(f"error parsing jsonpath {template!r}: {{range}} without {{end}}")
    return stack[0]


def format_value(value: Any) -> str:
    """A result as kubectl prints it: strings bare, booleans lower-case, maps and lists as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


@dataclass
class Template:
    source: str
    nodes: list[_Node]

    def values(self, data: Any) -> list[list[Any]]:
        """The results of each path of a template without text or range (custom-columns, --sort-by)."""
        return [self._find(n, data, data) for n in self.nodes if n.kind == "path"]

    def render(self, data: Any) -> str:
        out: list[str] = []
        self._render(self.nodes, data, data, out.append)
        return "".join(out)

    def _find(self, node: _Node, current: Any, root: Any) -> list[Any]:
        return [m.obj for m in node.query.finditer(root if node.root else current)]

    def _render(self, nodes: list[_Node], current: Any, root: Any, emit: Callable[[str], None]) -> None:
        for node in nodes:
            if node.kind == "text":
                emit(node.text)
            elif node.kind == "path":
                emit(" ".join(format_value(v) for v in self._find(node, current, root)))
            else:
                for item in self._find(node, current, root):
                    self._render(node.body, item, root, emit)


def parse(template: str) -> Template:
    """A kubectl JSONPath template; JSONPathError says what is wrong with it."""
    return Template(template, _parse(_actions(template), template))


def parse_path(path: str) -> Template:
    """One path, as custom-columns and --sort-by take it: `.metadata.name` or `{.metadata.name}`."""
    text = path.strip()
    if not (text.startswith("{") and text.endswith("}")):
        text = "{" + text + "}"
    template = parse(text)
    if [n.kind for n in template.nodes] != ["path"]:
        raise JSONPathError(f"{path!r} is not one JSONPath expression (e.g. .metadata.name)")
    return template
