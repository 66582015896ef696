"""Config trees as readable Python source, in MMEngine's ``dict(...)`` style.

A value that fits on its line stays on one line; a longer one opens, puts one item per
line with a trailing comma, and closes at its own indent::

    model = dict(
        type='RetinaNet',
        backbone=dict(type='ResNet', depth=50, out_indices=(1, 2, 3)),
        ...
    )

Keys keep their order. Executing the text gives back an equal dict.
"""

from __future__ import annotations

import keyword
import math
from typing import Any

from detcore.config.errors import ConfigError

LINE_WIDTH = 100
_INDENT = "    "


def format_python(cfg: dict) -> str:
    """Python source that assigns each top-level key of ``cfg``."""
    lines = []
    for key, value in cfg.items():
        if not _is_keyword_argument(key) or key.startswith("_"):
            raise ConfigError(f"the top-level key {key!r} cannot be written as a Python config "
                              f"variable (a Python config ignores names starting with '_' and "
                              f"needs identifiers); write the config as .json or .yaml instead")
        lines.append(f"{key} = {_format(value, 0, len(key) + 3)}")
    return "\n".join(lines) + "\n"


def _format(value: Any, indent: int, used: int) -> str:
    """``value`` as source starting at column ``used`` of a line indented by ``indent``
    (``used`` counts a trailing comma too)."""
    inline = _inline(value)
    if len(inline) + used <= LINE_WIDTH or not isinstance(value, (dict, list, tuple)) \
            or not value:
        return inline
    inner = indent + len(_INDENT)
    pad = " " * inner
    if isinstance(value, dict):
        as_call = all(_is_keyword_argument(k) for k in value)
        opener, closer = ("dict(", ")") if as_call else ("{", "}")
        items = []
        for key, item in value.items():
            prefix = f"{key}=" if as_call else f"{_inline(key)}: "
            items.append(f"{pad}{prefix}{_format(item, inner, inner + len(prefix) + 1)},")
    else:
        opener, closer = ("[", "]") if isinstance(value, list) else ("(", ")")
        items = [f"{pad}{_format(item, inner, inner + 1)}," for item in value]
    return "\n".join([opener, *items, " " * indent + closer])


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        if all(_is_keyword_argument(k) for k in value):
            return "dict(" + ", ".join(f"{k}={_inline(v)}" for k, v in value.items()) + ")"
        return "{" + ", ".join(f"{_inline(k)}: {_inline(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    if isinstance(value, tuple):
        if len(value) == 1:
            return f"({_inline(value[0])},)"
        return "(" + ", ".join(_inline(v) for v in value) + ")"
    if isinstance(value, float) and not math.isfinite(value):
        return f"float('{value}')"
    return repr(value)


def _is_keyword_argument(key: Any) -> bool:
    return isinstance(key, str) and key.isidentifier() and not keyword.iskeyword(key)
