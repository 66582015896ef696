"""Merging one config tree into another, with MMEngine's rules.

* dicts merge key by key; a dict holding ``_delete_=True`` replaces what it merges into;
* lists and every other value replace what they merge into;
* with ``allow_list_keys`` (used by ``--cfg-options``), a dict with digit keys merges into
  a list by index: ``{'pipeline': {'0': {'type': 'X'}}}`` changes the first step only.

Unlike MMEngine, a dict may also replace a ``None`` without ``_delete_``
(``norm_cfg=None`` in a base, a dict in the child): there is nothing to merge with.
"""

from __future__ import annotations

from typing import Any

from detcore.config.config_dict import DELETE_KEY, join_key

_MISSING = object()


class MergeConflict(Exception):
    """Two trees disagree at ``key`` (a dotted path); callers add which files or options."""

    def __init__(self, key: str, reason: str):
        super().__init__(f"'{key}': {reason}")
        self.key = key


def merge(base: Any, override: dict, *, allow_list_keys: bool = False, key: str = "") -> Any:
    """A new tree: ``base`` with ``override`` merged in. Neither input is modified; the
    result shares unchanged sub-trees with them."""
    if isinstance(base, list):
        return _merge_into_list(base, override, allow_list_keys, key)
    merged = dict(base)
    for name, value in override.items():
        merged[name] = _merge_value(merged.get(name, _MISSING), value, allow_list_keys,
                                    join_key(key, name))
    return merged


def strip_delete_keys(value: Any) -> Any:
    """``value`` without ``_delete_`` keys, which mean nothing once there is no base."""
    if isinstance(value, dict):
        return {k: strip_delete_keys(v) for k, v in value.items() if k != DELETE_KEY}
    if type(value) in (list, tuple):
        return type(value)(strip_delete_keys(v) for v in value)
    return value



def _merge_value(old: Any, new: Any, allow_list_keys: bool, key: str) -> Any:
    if not isinstance(new, dict):
        return strip_delete_keys(new)
    new = dict(new)
    replace = new.pop(DELETE_KEY, False)
    if replace or old is _MISSING or old is None:
        return strip_delete_keys(new)
    if isinstance(old, dict) or (allow_list_keys and isinstance(old, list)):
        return merge(old, new, allow_list_keys=allow_list_keys, key=key)
    if isinstance(old, list) and all(isinstance(k, str) and k.isdigit() for k in new):
        raise MergeConflict(key, "is a list; setting its items by index needs "
                                 "allow_list_keys=True")
    raise MergeConflict(key, f"cannot merge a dict into {_describe(old)}; add {DELETE_KEY}=True "
                             f"to the dict to replace the value instead")


def _merge_into_list(base: list, override: dict, allow_list_keys: bool, key: str) -> list:
    merged = list(base)
    for name, value in override.items():
        if not (isinstance(name, str) and name.isdigit()):
            raise MergeConflict(key, f"is a list, so it has no key '{name}'; set its items by "
                                     f"index, such as '{join_key(key, 0)}'")
        index = int(name)
        if index >= len(merged):
            raise MergeConflict(join_key(key, name), f"index {index} is out of range: '{key}' "
                                                     f"is a list of {len(merged)} items")
        merged[index] = _merge_value(merged[index], value, allow_list_keys, join_key(key, name))
    return merged


def _describe(value: Any) -> str:
    text = repr(value)
    text = text if len(text) <= 40 else text[:37] + "..."
    return f"a {type(value).__name__} ({text})"
