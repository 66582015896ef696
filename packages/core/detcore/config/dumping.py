"""Config data written as .py, .json or .yaml text.

Only plain data can be written: dicts, lists, tuples, str, int, float, bool and None (a
Python config may hold other objects; they are reported by key). JSON has no tuples and
only string keys, so a .json dump reads back with lists for tuples and string keys; .py
and .yaml dumps read back equal.
"""

from __future__ import annotations

import json
from typing import Any

from detcore.config.config_dict import join_key
from detcore.config.errors import ConfigError
from detcore.config.pretty import format_python

_SCALARS = (str, int, float, bool, type(None))


def render(data: dict, file_format: str, destination: str = "the dump") -> str:
    """``data`` (plain dicts, see ``to_plain``) as the text of a ``file_format`` config."""
    _check_plain(data, "", file_format, destination)
    if file_format == "py":
        return format_python(data)
    if file_format == "json":
        return json.dumps(data, indent=4, ensure_ascii=False) + "\n"
    from detcore.config import yaml_format

    return yaml_format.dump(data)


def _check_plain(value: Any, key: str, file_format: str, destination: str) -> None:
    if isinstance(value, dict):
        for name, item in value.items():
            _check_plain(item, join_key(key, name), file_format, destination)
    elif type(value) in (list, tuple):
        for index, item in enumerate(value):
            _check_plain(item, join_key(key, index), file_format, destination)
    elif not isinstance(value, _SCALARS):
        raise ConfigError(f"cannot write {destination}: '{key}' holds {value!r} "
                          f"({type(value).__name__}), which a .{file_format} config cannot "
                          f"represent; only dicts, lists, tuples, str, int, float, bool and "
                          f"None can be written")
