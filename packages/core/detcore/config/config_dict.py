"""ConfigDict: a dict whose keys are also attributes, as MMEngine users expect
(``cfg.model.backbone.depth``).

Nested dicts, also those inside lists and tuples, become ConfigDicts when stored, so
attribute access works at every depth. Each ConfigDict remembers the config file it came
from and its dotted place in it, so that a missing key is reported as
``'model.backbone' in config /x/faster_rcnn.py has no key 'depht'; did you mean 'depth'?``.
"""

from __future__ import annotations

import difflib
from typing import Any

DELETE_KEY = "_delete_"


def join_key(path: str, key: object) -> str:
    """``'model'`` + ``'backbone'`` -> ``'model.backbone'``; the root path is ``''``."""
    return f"{path}.{key}" if path else str(key)


class ConfigDict(dict):
    """A dict with attribute access to its keys.

    Reading a missing key as an attribute raises AttributeError naming the key, its place
    and the config file; as an item, KeyError as usual. Dict methods (``get``, ``items``,
    ``update``, ...) keep their meaning, so a key that shadows one is read as ``d['items']``.
    """

    # Where this dict sits, for error messages. Class defaults keep attribute lookups of
    # these names away from __getattr__ (pickle and copy create instances without __init__).
    _filename: str | None = None
    _key_path: str = ""

    def __init__(self, *args, **kwargs):
        super().__init__()
        self.update(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # protocol lookups (copy, pickle) are never keys
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(self._missing_key_message(name)) from None

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("_filename", "_key_path"):
            object.__setattr__(self, name, value)
        else:
            self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(self._missing_key_message(name)) from None

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, wrap(value, self._filename, join_key(self._key_path, key)))

    def update(self, *args, **kwargs) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def copy(self) -> ConfigDict:
        """A shallow copy that keeps the file and place of this dict."""
        return wrap(self, self._filename, self._key_path, rebuild=True, deep=False)

    def __copy__(self) -> ConfigDict:
        return self.copy()

    def to_dict(self) -> dict:
        """Plain dicts all the way down (lists and tuples keep their type)."""
        return to_plain(self)

    def _missing_key_message(self, name: str) -> str:
        config = f"config {self._filename}" if self._filename else "the config"
        where = f"'{self._key_path}' in {config}" if self._key_path else config
        message = f"{where} has no key '{name}'"
        close = difflib.get_close_matches(name, [str(k) for k in self], n=1)
        if close:
            return f"{message}; did you mean '{close[0]}'?"
        known = ", ".join(str(k) for k in self)
        return f"{message}; its keys are: {known}" if known else f"{message}; it is empty"


def wrap(value: Any, filename: str | None, key_path: str, *, rebuild: bool = False,
         deep: bool = True) -> Any:
    """``value`` with every nested dict turned into a ConfigDict that knows its place.

    Existing ConfigDicts are kept as they are (so that aliases stay aliases) unless
    ``rebuild``; lists and tuples are always rebuilt, as in MMEngine. ``deep=False`` wraps
    only the top level.
    """
    if isinstance(value, dict) and (rebuild or not isinstance(value, ConfigDict)):
        wrapped = ConfigDict()
        object.__setattr__(wrapped, "_filename", filename)
        object.__setattr__(wrapped, "_key_path", key_path)
        for key, item in value.items():
            if deep:
                item = wrap(item, filename, join_key(key_path, key), rebuild=rebuild)
            dict.__setitem__(wrapped, key, item)
        return wrapped
    if isinstance(value, (list, tuple)) and deep:
        items = (wrap(item, filename, join_key(key_path, i), rebuild=rebuild)
                 for i, item in enumerate(value))
        return type(value)(items) if type(value) in (list, tuple) else value
    return value


def to_plain(value: Any) -> Any:
    """A copy of ``value`` with ConfigDicts turned into plain dicts, at every depth."""
    if isinstance(value, dict):
        return {key: to_plain(item) for key, item in value.items()}
    if type(value) in (list, tuple):
        return type(value)(to_plain(item) for item in value)
    return value
