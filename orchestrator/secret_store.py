"""The values of applied Secrets: one JSON file beside the store (`.orc/secret-values.json`), readable and
writable by its owner only (0600), replaced atomically. The store keeps each Secret's manifest without its
values, plus `orcValues`, a random id that changes whenever the values do (so the store, its history and
the bookkeeping never hold a value, nor a digest one could guess a short password from).

    {"db": {"id": "4f0c...", "data": {"password": "czNjcmV0"}}}     # data base64, as Kubernetes shows it
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from pathlib import Path
from typing import Any

from orchestrator.errors import ConfigError

FILE_NAME = "secret-values.json"
_KEY_ENTRY = "_key"  # not a Secret's name (those are DNS-1123): the project's digest key
VALUES_FIELD = "orcValues"  # in the stored Secret manifest: the id of its values in this file


class SecretValues:
    def __init__(self, path: Path):
        self.path = path
        self._data: dict[str, dict[str, Any]] | None = None
        self._read: str | None = None  # the file as first read ("" when there was none)

    def load(self) -> dict[str, dict[str, Any]]:
        if self._data is None:
            try:
                text = self.path.read_text()
                self._read = text
            except FileNotFoundError:
                text, self._read = "{}", ""
            try:
                data = json.loads(text)
            except ValueError:
                raise ConfigError(f"{self.path}: not valid JSON (the applied Secrets' values); restore it or "
                                  "apply the Secrets again") from None
            self._data = data if isinstance(data, dict) else {}
        return self._data

    def values(self, name: str, id_: str | None = None) -> dict[str, bytes] | None:
        """Key -> bytes of the Secret `name` (only if its values are those of `id_`, when given)."""
        entry = self.load().get(name)
        if not isinstance(entry, dict) or (id_ is not None and entry.get("id") != id_):
            return None
        return {str(k): base64.b64decode(str(v)) for k, v in (entry.get("data") or {}).items()}

    def id_for(self, name: str, values: dict[str, bytes]) -> str:
        """The id of these values: the stored one when they are unchanged, a new one otherwise."""
        entry = self.load().get(name)
        if isinstance(entry, dict) and self.values(name) == values and entry.get("id"):
            return str(entry["id"])
        return uuid.uuid4().hex

    def set(self, name: str, id_: str, values: dict[str, bytes]) -> None:
        self.load()[name] = {"id": id_, "data": {k: base64.b64encode(v).decode() for k, v in sorted(values.items())}}

    def remove(self, name: str) -> None:
        self.load().pop(name, None)

    def digest_key(self) -> bytes:
        """A random key of this project (made and saved once), for digests of the `secrets/` folder's values
        that the store's bookkeeping may hold without letting anyone guess a value from them."""
        entry = self.load().get(_KEY_ENTRY)
        if isinstance(entry, dict) and entry.get("id"):
            return bytes.fromhex(str(entry["id"]))
        key = os.urandom(32)
        self.load()[_KEY_ENTRY] = {"id": key.hex()}
        self.save()
        return key

    def applied(self) -> dict[str, tuple[str, dict[str, bytes]]]:
        """Name -> (id, values) of every applied Secret in the file."""
        out = {}
        for name, entry in self.load().items():
            if name != _KEY_ENTRY and isinstance(entry, dict):
                out[name] = (str(entry.get("id") or ""), self.values(name) or {})
        return out

    def restore(self) -> None:
        """Put the file back as it was first read (an apply whose store write failed keeps the old values)."""
        if self._read is None:
            return
        self._data = json.loads(self._read) if self._read else {}
        if self._read:
            self.save()
        else:
            self.path.unlink(missing_ok=True)

    def save(self) -> None:
        """Write the file atomically, created 0600 (never readable by others, not even for a moment)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(self.load(), f, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, self.path)


def config_source(desired: Any, values: SecretValues) -> Any:
    """What a pass can give pods (plan.config_refs.ConfigSource): the applied ConfigMaps, and the applied
    Secrets whose values file holds the values their stored manifest names (a Secret whose values this
    controller lacks counts as missing, with its pods waiting)."""
    from orchestrator.plan.config_refs import ConfigSource, content_version

    maps = {name: cm.values() for name, cm in desired.config_maps.items()}
    versions = {f"cm/{name}": content_version(v) for name, v in maps.items()}
    secrets = {}
    for name, manifest in desired.secrets.items():
        id_ = str(manifest.get(VALUES_FIELD) or "")
        found = values.values(name, id_)
        if found is not None:
            secrets[name] = found
            versions[f"secret/{name}"] = id_
    return ConfigSource(maps, secrets, versions)
