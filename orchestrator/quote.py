"""A string as an error message shows it, as Go's %q does in Kubernetes' field errors: quoted, with every
character a terminal would not print as itself escaped (control characters, line and paragraph separators,
format characters such as the bidi override U+202E or the zero-width space, unassigned and private code
points, spaces other than ' '), so a value can never break an error line or disguise the text around it."""

from __future__ import annotations

import json
import unicodedata

_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _visible(ch: str) -> bool:
    category = unicodedata.category(ch)
    return not (category in _HIDDEN or (category == "Zs" and ch != " "))


def go_quote(value: str) -> str:
    """`"a\\nb"`, `"\\u202eevil"`, `"名前"`: JSON's escapes, plus \\uXXXX for whatever is not visible."""
    try:
        text = json.dumps(value, ensure_ascii=False)
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: escaped, so the error can be printed at all
        return json.dumps(value)
    if all(_visible(ch) or ch in "\n\r\t" for ch in value):
        return text
    return "".join(ch if _visible(ch) or ch == '"' else json.dumps(ch)[1:-1] for ch in text)
