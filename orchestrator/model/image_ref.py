"""Image references, as Docker's reference grammar (github.com/distribution/reference) reads them.

    reference      := name [ ":" tag ] [ "@" digest ]
    name           := [ domain "/" ] path                       at most 255 characters
    domain         := host [ ":" port ]                          a first component with "." or ":",
    host           := domain-name | IPv4 | "[" IPv6 "]"          or "localhost", or an upper-case letter
    domain-name    := component ( "." component )*              component: [A-Za-z0-9] ([A-Za-z0-9-]* [A-Za-z0-9])?
    path           := path-component ( "/" path-component )*
    path-component := [a-z0-9]+ ( separator [a-z0-9]+ )*         separator: "." | "_" | "__" | "-"+
    tag            := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
    digest         := algorithm ":" hex                          algorithm: [A-Za-z][A-Za-z0-9]* ([+._-] ...)*

A valid reference never starts with "-", so it can never be read as an option; the commands that take an
image still put `--` before it (commands/pod.py), so this is a second wall, not the only one.
"""

from __future__ import annotations

import re

NAME_MAX = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_HOST = rf"(?:{_DOMAIN_NAME}|{_IPV6})"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

_PATH_RE = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*", re.ASCII)
_DOMAIN_RE = re.compile(_DOMAIN, re.ASCII)
_TAG_RE = re.compile(_TAG, re.ASCII)
_DIGEST_RE = re.compile(_DIGEST, re.ASCII)

EXAMPLE = "e.g. 'nginx:1.25', 'registry.example.com:5000/team/app:v2' or 'app@sha256:<64 hex digits>'"


def image_reference_errors(ref: str) -> list[str]:
    """Why `ref` is not a valid image reference (empty: it is). Messages quote no more than needed."""
    if not ref:
        return ["must not be empty"]
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in ref):
        return ["must not contain control characters"]
    if ref.startswith("-"):
        return ["must not start with '-' (it would be read as an option)"]
    if ref != ref.strip() or any(ch.isspace() for ch in ref):
        return ["must not contain whitespace"]
    rest, _, digest = ref.partition("@")
    errors: list[str] = []
    if "@" in ref and not _DIGEST_RE.fullmatch(digest):
        errors.append(f"digest {digest!r} is invalid: must be ALGORITHM:HEX with at least 32 hex digits")
    name, tag = rest, ""
    last_slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > last_slash:
        name, tag = rest[:colon], rest[colon + 1:]
        if not _TAG_RE.fullmatch(tag):
            errors.append(f"tag {tag!r} is invalid: up to 128 of letters, digits, '_', '.' and '-', "
                          "not starting with '.' or '-'")
    if not name:
        return [*errors, f"has no repository name ({EXAMPLE})"]
    if len(name) > NAME_MAX:
        return [*errors, f"repository name must not be longer than {NAME_MAX} characters"]
    domain, path = _split_domain(name)
    if domain is not None and not _DOMAIN_RE.fullmatch(domain):
        errors.append(f"registry {domain!r} is invalid: must be a host name or address, optionally with :PORT")
    if not _PATH_RE.fullmatch(path):
        if path != path.lower() and _PATH_RE.fullmatch(path.lower()):
            errors.append(f"repository name {path!r} must be lowercase")
        else:
            errors.append(f"repository name {path!r} is invalid: lowercase letters and digits in "
                          f"'/'-separated parts, joined by '.', '_', '__' or '-' ({EXAMPLE})")
    return errors


def _split_domain(name: str) -> tuple[str | None, str]:
    """Docker's rule: the first component is a registry when it has a '.' or ':', is 'localhost', or has an
    upper-case letter (a repository path never does)."""
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        return first, rest
    return None, name


def is_image_reference(ref: str) -> bool:
    return not image_reference_errors(ref)
