"""The local secret source: Kubernetes `Secret` manifests kept in the project's `secrets/` folder (orc.yaml
`secrets:`), on the controller only. They never enter the store; `valueFrom.secretKeyRef` in a pod is
resolved from them when the pod starts, and the value travels to the host on the batch's stdin, never in
an argv, a log line, an event or an error message (values are `Secret` strings that print as [REDACTED]).

    secrets/db.yaml:
      apiVersion: v1
      kind: Secret
      metadata: {name: db}
      stringData: {password: s3cret}      # or data: {password: czNjcmV0} (base64), as Kubernetes
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from orchestrator.commands.base import Secret
from orchestrator.errors import ConfigError
from orchestrator.model.text import shown, unencodable


class SecretSource:
    def __init__(self, secrets: dict[str, dict[str, Secret]], folder: Path | None = None,
                 errors: list[str] | None = None):
        self._secrets = secrets
        self.folder = folder
        self.errors = list(errors or [])  # files (or documents) that could not be read: they serve nothing

    @classmethod
    def load(cls, folder: Path, strict: bool = True) -> SecretSource:
        """Every Secret in `folder` (*.yaml, *.yml, *.json; several documents per file allowed). A missing
        folder is an empty source. Problems name the file, never a value. `strict` (apply): any problem
        raises; otherwise (a reconcile pass) the good files serve and `errors` lists the others, so one
        broken file fails only the pods that need a secret it might hold."""
        out: dict[str, dict[str, Secret]] = {}
        if not folder.is_dir():
            return cls(out, folder)
        errors = []
        for path in sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml", ".json") and p.is_file()):
            try:
                docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
            except yaml.YAMLError as e:
                errors.append(f"{path}: not valid YAML ({getattr(e, 'problem', 'parse error')})")
                continue
            for i, doc in enumerate(docs):
                name, values, problem = _secret(doc)
                if problem:
                    errors.append(f"{path} (document {i + 1}): {problem}")
                elif name in out:
                    errors.append(f"{path}: secret {name!r} is defined twice in {folder}")
                else:
                    out[name] = values
        if errors and strict:
            raise ConfigError("the secret source is invalid:\n  " + "\n  ".join(errors))
        return cls(out, folder, errors)

    def get(self, name: str, key: str) -> Secret | None:
        return self._secrets.get(name, {}).get(key)

    digest_key: bytes = b""  # the project's random key (secret_store.SecretValues.digest_key) for `version`

    def names(self) -> list[str]:
        return sorted(self._secrets)

    def version(self, name: str) -> str:
        """What a volume made from this Secret records of it: a digest keyed with the project's own key."""
        from orchestrator.plan.config_refs import keyed_version

        values = {k: str(v).encode() for k, v in self._secrets.get(name, {}).items()}
        return keyed_version(values, self.digest_key or b"orc")

    def has(self, name: str) -> bool:
        return name in self._secrets

    def items(self, name: str) -> dict[str, Secret] | None:
        """Every key of the Secret `name`, or None when the folder has none of that name."""
        found = self._secrets.get(name)
        return dict(found) if found is not None else None

    def where(self) -> str:
        return str(self.folder) if self.folder else "the secret source"


def _secret(doc: Any) -> tuple[str, dict[str, Secret], str | None]:
    if not isinstance(doc, dict) or doc.get("kind") != "Secret":
        return "", {}, "not a Secret (kind: Secret, apiVersion: v1)"
    name = (doc.get("metadata") or {}).get("name")
    if not isinstance(name, str) or not name:
        return "", {}, "metadata.name is required"
    values: dict[str, Secret] = {}
    for key, raw in (doc.get("data") or {}).items():
        try:
            values[str(key)] = Secret(base64.b64decode(str(raw), validate=True).decode())
        except (binascii.Error, UnicodeDecodeError):
            return name, {}, f"data.{key}: not valid base64 text (use stringData for plain text)"
    for key, raw in (doc.get("stringData") or {}).items():
        values[str(key)] = Secret(str(raw))
    for key, value in values.items():
        if unencodable(key):
            return name, {}, f"{data_field(doc, key)}: a key {unencodable(key)}"
        why = unencodable(str(value))
        if why:  # the reason only: a secret's value never appears in an error
            return name, {}, f"{data_field(doc, key)}[{shown(key)}]: the value {why}"
    return name, values, None


def data_field(doc: dict[str, Any], key: str) -> str:
    """Where a secret's key was written: stringData wins over data, as in Kubernetes."""
    return "stringData" if key in (doc.get("stringData") or {}) else "data"


def secret_refs(objects: Iterable[Any]) -> list[tuple[str, str, str, str, bool, str]]:
    """(object description, field path, secret name, key, optional, env var name) for every secretKeyRef
    in pods and pod templates."""
    from orchestrator.model.objects import Pod, Workload

    out = []
    for o in objects:
        if isinstance(o, Pod):
            spec, prefix = o.spec, "spec"
        elif isinstance(o, Workload):
            spec, prefix = o.template.spec, "spec.template.spec"
        else:
            continue
        for part, cs in (("initContainers", spec.init_containers or []), ("containers", spec.containers)):
            for i, c in enumerate(cs):
                for j, e in enumerate(c.env or []):
                    ref = e.value_from.secret_key_ref if e.value_from else None
                    if ref is not None:
                        out.append((f'{o.kind} "{o.name}"', f"{prefix}.{part}[{i}].env[{j}].valueFrom.secretKeyRef",
                                    ref.name, ref.key, bool(ref.optional), e.name))
    return out


def missing_refs(objects: Iterable[Any], source: SecretSource, applied: Iterable[str] = ()) -> list[str]:
    """kubectl-style errors for references the source cannot satisfy (optional ones excepted), and for a
    value that must bypass docker's env file (a line break, a carriage return) under a name no shell can
    export (see commands.pod.env_exports). Values are never shown. A reference to an `applied` Secret (in
    the store or this apply) is checked when the pod starts instead (CreateContainerConfigError)."""
    from orchestrator.model.pod import shell_name
    from orchestrator.model.text import env_file_safe

    errors = []
    applied = set(applied)
    for what, path, name, key, optional, env in secret_refs(objects):
        if name in applied:
            continue
        value = source.get(name, key)
        if value is None and not optional:
            errors.append(f'{what} is invalid: {path}: Not found: secret "{name}" key "{key}" is not in '
                          f"{source.where()} (add it there, or mark the reference optional)")
        elif value is not None and not env_file_safe(env, value) and not shell_name(env):
            errors.append(f'{what} is invalid: {path.rsplit(".valueFrom", 1)[0]}.name: Invalid value: '
                          f'"{env}": secret "{name}" key "{key}" has a line break or a carriage return, so the '
                          "variable must be named with letters, digits and '_' only (orc passes it through a shell)")
    return errors
