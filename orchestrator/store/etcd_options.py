"""Where an etcd store is and how to reach it: parsed from, and written as, one URL.

    etcd://HOST:PORT[,HOST:PORT...][/PREFIX/][?ca=FILE&cert=FILE&key=FILE&user=NAME
           &password_file=FILE&password_env=VAR&timeout=SECONDS&compact=0|1&tls=0|1]

`PREFIX` is the key prefix of one store (one cluster): every key of ours lives under it, so several clusters
share one etcd. orc.yaml names only the endpoints (`store: etcd://h1:2379,h2:2379`) and the options in its
`etcd:` section; `Project.store_url` builds the full URL, the prefix being `<etcd.prefix>/<cluster>/`.

A password is never part of the URL (nor of argv, logs or errors): only the file that holds it or the
environment variable that does. TLS is on when a CA or a client certificate is given (or `tls=1`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from orchestrator.errors import ConfigError

SCHEME = "etcd://"
DEFAULT_PORT = 2379
DEFAULT_TIMEOUT = 5.0
_HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_IPV6 = re.compile(r"^\[[0-9A-Fa-f:.]+\]$")
_PREFIX = re.compile(r"^/(?:[A-Za-z0-9._-]+/)*$")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_FILES = ("ca", "cert", "key", "password_file")
_OPTIONS = (*_FILES, "user", "password_env", "timeout", "compact", "tls")


@dataclass(frozen=True)
class EtcdOptions:
    endpoints: tuple[tuple[str, int], ...]
    prefix: str = "/orc/"
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    user: str | None = None
    password_file: str | None = None
    password_env: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    compact: bool = True  # compact etcd's revisions older than the store's event window
    tls: bool = False
    extra: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def scheme(self) -> str:
        return "https" if self.tls or self.ca or self.cert else "http"

    @property
    def where(self) -> str:
        """How messages name this store: endpoints and prefix (never a secret)."""
        hosts = ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in self.endpoints)
        return f"etcd://{hosts}{self.prefix}"

    def url(self) -> str:
        query: dict[str, str] = {}
        for name in _FILES + ("user", "password_env"):
            value = getattr(self, name)
            if value is not None:
                query[name] = value
        if self.timeout != DEFAULT_TIMEOUT:
            query["timeout"] = f"{self.timeout:g}"
        if not self.compact:
            query["compact"] = "0"
        if self.tls and not (self.ca or self.cert):
            query["tls"] = "1"
        tail = "?" + urlencode(query, quote_via=quote, safe="/") if query else ""
        return self.where + tail

    def password(self) -> str | None:
        """The password, read from its file or environment variable now (never kept in the URL)."""
        if self.user is None:
            return None
        if self.password_file:
            try:
                with open(self.password_file, encoding="utf-8") as f:
                    return f.read().rstrip("\r\n")
            except OSError as e:
                raise ConfigError(f"{self.where}: cannot read the etcd password file {self.password_file}: "
                                  f"{e.strerror}; set etcd.password_file in orc.yaml to a readable file") from e
        if self.password_env:
            value = os.environ.get(self.password_env)
            if value is None:
                raise ConfigError(f"{self.where}: the environment variable {self.password_env} (etcd.password_env "
                                  "in orc.yaml) is not set: export it with the etcd user's password")
            return value
        raise ConfigError(f"{self.where}: etcd user {self.user!r} has no password source: set etcd.password_file "
                          "or etcd.password_env in orc.yaml (a password is never written in orc.yaml itself)")


def project_url(url: str, cluster: str, section: dict[str, Any], path: Callable[[str], Path], what: str) -> str:
    """The full URL of a project's etcd store: the endpoints of `url` (orc.yaml `store`), the key prefix
    `<root>/<cluster>/` (root: the URL's own path, else `etcd.prefix`) and the `etcd:` section's options,
    files made absolute by `path`. Options written in the URL itself win over the section's."""
    base, _, query = url.partition("?")
    hosts, slash, root = base[len(SCHEME):].partition("/")
    root = "/" + root.strip("/") if slash and root.strip("/") else section.get("prefix") or "/orc"
    given = dict(parse_qsl(query, keep_blank_values=True))
    merged: dict[str, str] = {}
    for name in _OPTIONS:
        value = given.get(name, section.get(name))
        if isinstance(value, bool):
            value = "1" if value else "0"
        if value is None or (name, value) in (("compact", "1"), ("tls", "0")):
            continue  # the defaults
        if name == "timeout" and isinstance(value, float):
            value = f"{value:g}"
        merged[name] = str(path(str(value))) if name in _FILES else str(value)
    if merged.get("timeout") == f"{DEFAULT_TIMEOUT:g}":
        del merged["timeout"]
    merged.update({k: v for k, v in given.items() if k not in _OPTIONS})  # unknown: parse_url names them
    full = f"{SCHEME}{hosts}{root.rstrip('/')}/{cluster}/" + ("?" + urlencode(merged, quote_via=quote, safe="/")
                                                             if merged else "")
    try:
        parse_url(full)
    except ConfigError as e:
        raise ConfigError(f"{what}: {e}") from e
    return full


def parse_url(url: str) -> EtcdOptions:
    """The options of an `etcd://` URL; every problem is named at once (ConfigError)."""
    if not url.startswith(SCHEME):
        raise ConfigError(f"store {url!r} is not an etcd URL: use etcd://HOST:PORT[,HOST:PORT...]")
    rest = url[len(SCHEME):]
    rest, _, query = rest.partition("?")
    hosts, slash, path = rest.partition("/")
    prefix = "/" + path if slash else "/orc/"
    if not prefix.endswith("/"):
        prefix += "/"
    problems: list[str] = []
    endpoints: list[tuple[str, int]] = []
    for part in hosts.split(","):
        ep = _endpoint(part.strip(), problems)
        if ep is not None:
            endpoints.append(ep)
    if not hosts.strip():
        problems.append("no endpoint: name at least one HOST:PORT, e.g. etcd://127.0.0.1:2379")
    if not _PREFIX.match(prefix) or "//" in prefix:
        problems.append(f"key prefix {prefix!r} is invalid: use /NAME/... of letters, digits, '.', '_', '-'")
    values: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name == "password":
            problems.append("a password is never part of the URL: use password_file or password_env")
        elif name not in _OPTIONS:
            problems.append(f"option {name!r} is unknown: use {', '.join(_OPTIONS)}")
        else:
            values[name] = value
    for name in _FILES:
        if name in values and not os.path.isabs(values[name]):
            problems.append(f"{name} {values[name]!r} must be an absolute path (orc.yaml's are made so)")
    if "password_env" in values and not _ENV.match(values["password_env"]):
        problems.append(f"password_env {values['password_env']!r} is not an environment variable name")
    if ("cert" in values) != ("key" in values):
        problems.append("a client certificate needs both cert and key")
    if "user" in values and not ({"password_file", "password_env"} & values.keys()):
        problems.append(f"user {values['user']!r} needs password_file or password_env")
    timeout = DEFAULT_TIMEOUT
    if "timeout" in values:
        try:
            timeout = float(values["timeout"])
            if not 0 < timeout <= 300:
                raise ValueError
        except ValueError:
            problems.append(f"timeout {values['timeout']!r} is invalid: seconds, above 0 and at most 300")
    flags = {}
    for name, default in (("compact", True), ("tls", False)):
        raw = values.get(name)
        if raw is None:
            flags[name] = default
        elif raw in ("0", "1", "true", "false"):
            flags[name] = raw in ("1", "true")
        else:
            problems.append(f"{name} {raw!r} is invalid: use 0 or 1")
    if problems:
        raise ConfigError(f"store {_redact(url)} is invalid: " + "; ".join(problems))
    return EtcdOptions(
        endpoints=tuple(endpoints), prefix=prefix, ca=values.get("ca"), cert=values.get("cert"),
        key=values.get("key"), user=values.get("user"), password_file=values.get("password_file"),
        password_env=values.get("password_env"), timeout=timeout, compact=flags.get("compact", True),
        tls=flags.get("tls", False))


def _endpoint(part: str, problems: list[str]) -> tuple[str, int] | None:
    if not part:
        return None
    host, port_text = part, ""
    if part.startswith("["):
        end = part.find("]")
        host, port_text = part[: end + 1], part[end + 2:] if part[end + 1:end + 2] == ":" else ""
        ok = end > 0 and bool(_IPV6.match(host))
    else:
        host, _, port_text = part.partition(":")
        ok = bool(_HOST.match(host))
    if not ok:
        problems.append(f"endpoint {part!r}: {host!r} is not a host name or address")
        return None
    port = DEFAULT_PORT
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            problems.append(f"endpoint {part!r}: port {port_text!r} is invalid: use 1-65535")
            return None
        port = int(port_text)
    return (host.strip("[]"), port)


def _redact(url: str) -> str:
    """The URL for an error message, with a password given (wrongly) in it replaced by [REDACTED]."""
    base, _, query = url.partition("?")
    if not query:
        return repr(base)
    pairs = [f"{n}={'[REDACTED]' if n == 'password' else v}" for n, v in parse_qsl(query, keep_blank_values=True)]
    return repr(base + "?" + "&".join(pairs))
