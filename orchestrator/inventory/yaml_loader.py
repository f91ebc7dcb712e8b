"""YAML as Ansible reads it (YAML 1.1 safe types; `!unsafe` strings), remembering the line of each
mapping key so that inventory errors can name `file:line`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import yaml

from orchestrator.errors import ConfigError

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    key_lines: dict[int, dict[Any, int]]


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> Iterator[dict[Any, Any]]:
    data: dict[Any, Any] = {}
    yield data
    data.update(loader.construct_mapping(node))
    lines: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        with contextlib.suppress(TypeError):  # unhashable key: construct_mapping has refused it already
            lines.setdefault(key, key_node.start_mark.line + 1)
    loader.key_lines[id(data)] = lines


def _construct_unsafe(loader: _LineLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]


def _construct_vault(loader: _LineLoader, node: yaml.Node) -> Any:
    raise yaml.constructor.ConstructorError(
        None,
        None,
        "ansible-vault encrypted values (!vault) are not supported; keep secrets out of the inventory",
        node.start_mark,
    )


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_LineLoader.add_constructor("!unsafe", _construct_unsafe)
_LineLoader.add_constructor("!vault", _construct_vault)
_LineLoader.add_constructor("!vault-encrypted", _construct_vault)


class YamlDocument:
    """Parsed YAML plus the line of every mapping key (`line(mapping, key)`)."""

    def __init__(self, data: Any, key_lines: dict[int, dict[Any, int]]):
        self.data = data
        self._key_lines = key_lines

    def line(self, mapping: Any, key: Any) -> int | None:
        try:
            return self._key_lines.get(id(mapping), {}).get(key)
        except TypeError:
            return None


def load_yaml(text: str, path: str) -> YamlDocument:
    """Parse one YAML document; a syntax error becomes a ConfigError naming `path:line`."""
    if text.startswith("$ANSIBLE_VAULT"):
        raise ConfigError(
            f"{path}: ansible-vault encrypted files are not supported; decrypt it or move it away"
        )
    loader = _LineLoader(text)
    loader.key_lines = {}
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{path}:{mark.line + 1}" if mark is not None else path
        raise ConfigError(f"{where}: not valid YAML: {e.problem or e.context}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    finally:
        loader.dispose()
    return YamlDocument(data, loader.key_lines)
