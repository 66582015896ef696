"""Text placeholders a config file may contain, replaced before the file is parsed.

* ``{{ fileDirname }}``, ``{{ fileBasename }}``, ``{{ fileBasenameNoExtension }}`` and
  ``{{ fileExtname }}``: the folder, name, stem and suffix (with its dot) of the config
  file itself, inserted as raw text (write them inside a string:
  ``work_dir = './work_dirs/{{ fileBasenameNoExtension }}'``).
* ``{{_base_.a.b}}``: a copy of the value ``a.b`` of the merged ``_base_`` files (digits
  index lists: ``{{_base_.train_pipeline.0}}``). In a Python config it is an expression
  (``lr = {{_base_.lr}} * 2`` works); in JSON and YAML it must be a whole value, quoted
  or not (``"model": "{{_base_.model}}"``). Quoting does not make it a string.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, NamedTuple

from detcore.config.errors import ConfigError

_FILE_VARIABLE = re.compile(
    r"\{\{\s*(fileDirname|fileBasename|fileBasenameNoExtension|fileExtname)\s*\}\}")
# Quotes around a whole reference are part of it, so JSON can stay valid JSON.
_BASE_REFERENCE = re.compile(r"(?P<quote>[\"']?)\{\{\s*_base_\.(?P<key>[\w.]+?)\s*\}\}(?P=quote)")

#: Python configs read ``{{_base_.x}}`` through this function, which the loader provides.
BASE_VALUE_FUNCTION = "__detcore_base_value__"
#: JSON and YAML configs carry ``{{_base_.x}}`` as this string prefix until it is resolved.
_BASE_MARKER = "__detcore_base_value__:"


class BaseReference(NamedTuple):
    """One ``{{_base_.<key>}}`` in a file: the dotted key and the line it is on."""

    key: str
    line: int


def substitute_file_variables(text: str, path: Path) -> str:
    values = {
        "fileDirname": str(path.parent),
        "fileBasename": path.name,
        "fileBasenameNoExtension": path.stem,
        "fileExtname": path.suffix,
    }
    return _FILE_VARIABLE.sub(lambda m: values[m.group(1)].replace("\\", "/"), text)


def find_base_references(text: str) -> list[BaseReference]:
    return [BaseReference(m["key"], text.count("\n", 0, m.start()) + 1)
            for m in _BASE_REFERENCE.finditer(text)]


def replace_base_references(text: str, file_format: str) -> str:
    """Turn each ``{{_base_.key}}`` into something the format's parser accepts (on the
    same line, so parse errors keep their line numbers)."""
    if file_format == "py":
        return _BASE_REFERENCE.sub(lambda m: f"{BASE_VALUE_FUNCTION}({m['key']!r})", text)
    return _BASE_REFERENCE.sub(lambda m: f'"{_BASE_MARKER}{m["key"]}"', text)


def check_base_references(references: list[BaseReference], bases: dict | None,
                          path: Path) -> None:
    """Fail early, with file and line, on a reference the bases cannot answer."""
    for ref in references:
        if bases is None:
            raise ConfigError(f"config {path}, line {ref.line}: {{{{_base_.{ref.key}}}}} is used "
                              f"but the config has no _base_")
        try:
            lookup(bases, ref.key)
        except LookupError as err:
            raise ConfigError(f"config {path}, line {ref.line}: {{{{_base_.{ref.key}}}}} cannot "
                              f"be resolved: {err.args[0]}") from None


def lookup(tree: Any, dotted_key: str) -> Any:
    """The value at ``dotted_key`` (``'model.backbone.depth'``, ``'pipeline.0'``) of ``tree``.

    Raises LookupError with a message naming the first part that is missing.
    """
    node, walked = tree, []
    for part in dotted_key.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            where = f"'{'.'.join(walked)}'" if walked else "the _base_ files"
            raise LookupError(f"{where} has no '{part}'")
        walked.append(part)
    return node


def resolve_base_markers(value: Any, bases: dict) -> Any:
    """``value`` (parsed JSON/YAML) with every base marker string replaced by a copy of
    the base value it names."""
    if isinstance(value, str) and value.startswith(_BASE_MARKER):
        return copy.deepcopy(lookup(bases, value[len(_BASE_MARKER):]))
    if isinstance(value, dict):
        return {key: resolve_base_markers(item, bases) for key, item in value.items()}
    if type(value) in (list, tuple):
        return type(value)(resolve_base_markers(item, bases) for item in value)
    return value
