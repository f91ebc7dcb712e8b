"""ConfigMap and Secret objects (Kubernetes v1), validated as the API server does: key names, the 1 MiB
limit, a key in one place only, base64 `data` of a Secret, the keys each common Secret type requires.

A Secret's values never appear in an error (only its key names and field paths do), and never in its
stored manifest: `orc apply` keeps them in the project's secret-values file (secret_store.py), mode 0600.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, ClassVar

from orchestrator.model.fields import FieldErrors, OneOf, duplicate, forbidden, invalid, required
from orchestrator.model.objects import K8sObject

MAX_SIZE = 1024 * 1024  # Kubernetes' limit on the data of one ConfigMap or Secret
_KEY_RE = re.compile(r"[-._a-zA-Z0-9]+")
_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name', or " \
           "'KEY_NAME', or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"

SECRET_TYPES = ("Opaque", "kubernetes.io/basic-auth", "kubernetes.io/ssh-auth", "kubernetes.io/tls",
                "kubernetes.io/dockerconfigjson", "kubernetes.io/dockercfg", "bootstrap.kubernetes.io/token")
_REQUIRED_KEYS = {"kubernetes.io/ssh-auth": ("ssh-privatekey",), "kubernetes.io/tls": ("tls.crt", "tls.key"),
                  "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
                  "kubernetes.io/dockercfg": (".dockercfg",)}


def key_errors(path: str, key: Any) -> FieldErrors:
    if not isinstance(key, str) or not key:
        return [(path, invalid(str(key), _KEY_MSG))]
    msgs = []
    if len(key) > 253:
        msgs.append("must be no more than 253 characters")
    if not _KEY_RE.fullmatch(key):
        msgs.append(_KEY_MSG)
    if key in (".", ".."):
        msgs.append(f"must not be '{key}'")
    elif key.startswith(".."):
        msgs.append("must not start with '..'")
    return [(path, invalid(key, m)) for m in msgs]


def _decode(raw: Any) -> bytes | None:
    if not isinstance(raw, str):
        return None
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return None


class ConfigMap(K8sObject):
    KEY_PREFIX: ClassVar[str] = "cm"
    data: dict[str, str] | None = None
    binary_data: dict[str, str] | None = None  # base64, as in the API
    immutable: bool | None = None

    def check(self) -> FieldErrors:
        errors: FieldErrors = []
        size = 0
        for k, v in (self.data or {}).items():
            errors += key_errors(f"data[{k}]", k)
            size += len(k) + len(v.encode("utf-8", "surrogatepass"))
            try:
                v.encode("utf-8")
            except UnicodeEncodeError as e:
                errors.append((f"data[{k}]", f"Invalid value: is not valid Unicode: a lone surrogate at offset "
                                             f"{e.start} cannot be encoded as UTF-8 (use binaryData for bytes)"))
        for k, v in (self.binary_data or {}).items():
            errors += key_errors(f"binaryData[{k}]", k)
            if k in (self.data or {}):
                errors.append((f"binaryData[{k}]", duplicate(k)))
            raw = _decode(v)
            if raw is None:
                errors.append((f"binaryData[{k}]", invalid("<binary>", "must be base64-encoded")))
            size += len(k) + len(raw or b"")
        if size > MAX_SIZE:
            errors.append(("", forbidden(f"may not have more than {MAX_SIZE} bytes of data (1 MiB); it has {size}")))
        return errors

    def values(self) -> dict[str, bytes]:
        """Key -> bytes: data as UTF-8, binaryData decoded."""
        out = {k: v.encode() for k, v in (self.data or {}).items()}
        out.update({k: _decode(v) or b"" for k, v in (self.binary_data or {}).items()})
        return out


class Secret(K8sObject):
    """Values are typed loosely (`Any`) so that pydantic's own errors, which print the input, never see
    them: `check` says what is wrong with a value without showing it."""

    KEY_PREFIX: ClassVar[str] = "secret"
    type: OneOf(*SECRET_TYPES) | None = None  # type: ignore[valid-type]
    data: Any = None  # key -> base64
    string_data: Any = None  # key -> text (write-only, as in Kubernetes: stored merged into data)
    immutable: bool | None = None

    def check(self) -> FieldErrors:
        errors: FieldErrors = []
        size = 0
        parts = {"data": self.data, "stringData": self.string_data}
        for field, part in parts.items():
            if part is not None and not isinstance(part, dict):
                errors.append((field, invalid("<redacted>", "must be a map of key to value")))
        data = self.data if isinstance(self.data, dict) else {}
        text = self.string_data if isinstance(self.string_data, dict) else {}
        for k, v in data.items():
            errors += key_errors(f"data[{k}]", k)
            raw = _decode(v)
            if raw is None:
                errors.append((f"data[{k}]", invalid("<redacted>", "must be base64-encoded (use stringData "
                                                                   "for plain text)")))
            size += len(str(k)) + len(raw or b"")
        for k, v in text.items():
            errors += key_errors(f"stringData[{k}]", k)
            if k in data:
                errors.append((f"stringData[{k}]", duplicate(k) + " (also in data: give each key once)"))
            if not isinstance(v, str):
                errors.append((f"stringData[{k}]", invalid("<redacted>", "must be a string (quote it)")))
                continue
            try:
                size += len(str(k)) + len(v.encode("utf-8"))
            except UnicodeEncodeError:
                errors.append((f"stringData[{k}]", invalid("<redacted>", "is not valid Unicode")))
        if size > MAX_SIZE:
            errors.append(("data", forbidden(f"may not have more than {MAX_SIZE} bytes of data (1 MiB); "
                                             f"it has {size}")))
        keys = {*data, *text}
        for k in _REQUIRED_KEYS.get(self.type or "Opaque", ()):
            if k not in keys:
                errors.append((f"data[{k}]", required(f"a Secret of type {self.type} needs it")))
        if self.type == "kubernetes.io/basic-auth" and not keys & {"username", "password"}:
            errors.append(("data", required("a Secret of type kubernetes.io/basic-auth needs `username` or "
                                            "`password`")))
        return errors

    def values(self) -> dict[str, bytes]:
        """Key -> bytes: data decoded, then stringData (which wins, as in Kubernetes)."""
        out = {str(k): _decode(v) or b"" for k, v in (self.data or {}).items()}
        out.update({str(k): str(v).encode() for k, v in (self.string_data or {}).items()})
        return out

    def to_manifest(self) -> dict[str, Any]:
        """What the store keeps: no value (those go to the secret-values file); `type` defaulted."""
        doc = self.model_dump(by_alias=True, exclude_none=True, mode="json", exclude={"data", "string_data"})
        doc["type"] = self.type or "Opaque"
        return doc
