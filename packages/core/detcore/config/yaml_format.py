"""YAML reading and writing for configs: ``yaml.safe_load`` rules, plus Python tuples.

Tuples matter to configs (``img_scale=(640, 640)``), so ``dump`` writes them with the
standard ``!!python/tuple`` tag and ``load`` reads that one tag back as a tuple. Nothing
else beyond the safe subset is accepted: loading a YAML config never runs code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from detcore.config.errors import ConfigError

_TUPLE_TAG = "tag:yaml.org,2002:python/tuple"


class _ConfigLoader(yaml.SafeLoader):
    pass


class _ConfigDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:  # repeated values are written out in full
        return True


_ConfigLoader.add_constructor(
    _TUPLE_TAG, lambda loader, node: tuple(loader.construct_sequence(node, deep=True)))
_ConfigDumper.add_representer(
    tuple, lambda dumper, data: dumper.represent_sequence(_TUPLE_TAG, data))


def load(text: str, path: Path) -> Any:
    try:
        return yaml.load(text, Loader=_ConfigLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.MarkedYAMLError as err:
        line = err.problem_mark.line + 1 if err.problem_mark else "?"
        problem = " ".join(p for p in (err.context, err.problem) if p)
        raise ConfigError(f"config {path}, line {line}: invalid YAML: {problem}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"config {path}: invalid YAML: {err}") from None


def dump(data: Any) -> str:
    """YAML text of plain config data (dicts, lists, tuples and scalars), in key order."""
    return yaml.dump(data, Dumper=_ConfigDumper, sort_keys=False, allow_unicode=True,
                     default_flow_style=None)
