"""Values as they may stand in a config file orc renders: each `{{ ... }}` of an HAProxy template is one
word of HAProxy's config language, each field of the pods' hosts file one word of that format. A value
that would change the file's structure (a line break starting a new section, a `#` starting a comment,
whitespace adding arguments, a quote or backslash changing how HAProxy reads the word) is refused with the
value named, never written: the rendered file holds only the lines its template wrote.

Template authors who really mean several words in one expression write `{{ value | haproxy_words }}`:
spaces pass then, line breaks, control characters and `#` still do not."""

from __future__ import annotations

import json
import re
from typing import Any

from orchestrator.errors import ConfigError

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_HAPROXY_SPECIAL = re.compile(r"[\s#\"'\\]")
_HOSTS_SPECIAL = re.compile(r"[\s#]")


class UnsafeValue(ConfigError, ValueError):
    """A value that would change the structure of the config it was rendered into."""


class Words(str):
    """A value a template marked as several HAProxy words (`| haproxy_words`)."""


def _shown(value: str) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:76] + '..."'


def _why(value: str, special: re.Pattern[str]) -> str | None:
    m = _CONTROL.search(value)
    if m:
        return f"a control character ({json.dumps(m.group())}) would break the line"
    m = special.search(value)
    if m is None:
        return None
    ch = m.group()
    if ch == "#":
        return "'#' would start a comment"
    if ch.isspace():
        return "whitespace would split it into several words"
    return f"{ch!r} would change how the word is read"


def haproxy_value(value: Any) -> Any:
    """Jinja's `finalize` for HAProxy templates: every printed value must be one safe word."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = str(value)
    special = _HAPROXY_SPECIAL if not isinstance(value, Words) else re.compile(r"[#\"'\\]")
    why = _why(text, special)
    if why:
        raise UnsafeValue(f"value {_shown(text)} would change the structure of the HAProxy config: {why}")
    return value


def haproxy_words(value: Any) -> Words:
    """The template filter that allows spaces (several words) in one printed value."""
    return Words(str(value))


def hosts_word(value: str) -> str:
    """One field of a hosts(5) line (an address or a name)."""
    why = _why(value, _HOSTS_SPECIAL)
    if why or not value:
        raise UnsafeValue(f"value {_shown(value)} would change the structure of the hosts file: "
                          f"{why or 'an empty field'}")
    return value
