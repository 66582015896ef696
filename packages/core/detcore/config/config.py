"""Config: a fully resolved config (bases merged), with attribute access, command-line
overrides, pretty printing and dumping."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from detcore.config.config_dict import ConfigDict, to_plain, wrap
from detcore.config.dumping import render
from detcore.config.errors import ConfigError
from detcore.config.inheritance import load_file, load_text
from detcore.config.merging import MergeConflict, merge
from detcore.config.pretty import format_python
from detcore.config.sources import FORMATS, format_of, locate


class Config:
    """A config as MMEngine users know it::

        cfg = Config.fromfile('detyolo::yolov8/yolov8_n_coco.py')
        cfg.model.backbone.deepen_factor, cfg['train_dataloader']['batch_size']
        cfg.merge_from_dict({'param_scheduler.0.end': 500, 'model.bbox_head.num_classes': 3})
        cfg.dump('work_dirs/run/config.py')

    Keys are read as attributes or items at every depth (nested dicts are ``ConfigDict``\\ s);
    dict methods (``get``, ``items``, ``keys``, ``update``, ...) work on the top level. A
    missing key raises AttributeError (as an attribute) or KeyError (as an item) naming the
    key and the config file.
    """

    def __init__(self, cfg_dict: Mapping | None = None, filename: str | Path | None = None):
        if cfg_dict is None:
            cfg_dict = {}
        if not isinstance(cfg_dict, Mapping):
            raise ConfigError(f"a Config is made from a dict, not a {type(cfg_dict).__name__}")
        filename = None if filename is None else str(filename)
        for key in cfg_dict:
            _check_not_reserved(key, filename)
        object.__setattr__(self, "_filename", filename)
        object.__setattr__(self, "_cfg_dict", wrap(dict(cfg_dict), filename, "", rebuild=True))

    @classmethod
    def fromfile(cls, path: str | Path) -> Config:
        """Load a ``.py``, ``.json``, ``.yaml`` or ``.yml`` config with its ``_base_`` files.

        ``path`` is a file path or ``scope::relative/path`` for a config a plugin ships.
        Python configs are executed: load only files you trust.
        """
        resolved = locate(path)
        return cls(load_file(resolved), filename=resolved)

    @classmethod
    def fromstring(cls, text: str, file_format: str) -> Config:
        """Load config text in ``file_format`` (``'.py'``, ``'py'``, ``'.json'``, ``'yaml'``, ...).

        Relative ``_base_`` paths are taken from the working directory, and errors name
        the text ``<working directory>/<string>.<format>``.
        """
        file_format = _named_format(file_format)
        pseudo_path = Path.cwd() / f"<string>.{file_format}"
        return cls(load_text(text, pseudo_path, file_format))

    @property
    def filename(self) -> str | None:
        """The absolute path of the file this config was loaded from (None if not a file)."""
        return self._filename

    @property
    def pretty_text(self) -> str:
        """The config as readable Python source (``key = dict(...)`` lines)."""
        return format_python(self.to_dict())

    def to_dict(self) -> dict:
        """A deep copy made of plain dicts, lists and tuples."""
        return to_plain(self._cfg_dict)

    def merge_from_dict(self, options: Mapping[str, Any], allow_list_keys: bool = True) -> None:
        """Apply overrides given by dotted keys, as ``--cfg-options`` does.

        ``{'model.backbone.depth': 101}`` changes one value, ``{'param_scheduler.0.end': 500}``
        one item of a list (with ``allow_list_keys``), a dict value merges into the dict it
        replaces unless it holds ``_delete_=True`` (``{'a.b._delete_': True, 'a.b.c': 1}``),
        and a list value replaces the list. Missing dict keys are created; a list index that
        does not exist is an error.
        """
        nested = _nest_dotted_keys(options)
        try:
            merged = merge(self._cfg_dict, nested, allow_list_keys=allow_list_keys)
        except MergeConflict as err:
            option = _option_behind(err.key, options)
            where = f"config {self._filename}" if self._filename else "the config"
            raise ConfigError(f"cannot apply option '{option}' to {where}: {err}") from None
        for key in merged:
            _check_not_reserved(key, self._filename)
        object.__setattr__(self, "_cfg_dict", wrap(merged, self._filename, ""))

    def dump(self, path: str | Path | None = None, *, file_format: str = "py") -> str | None:
        """Write the config to ``path`` in the format its suffix names (.py, .json, .yaml,
        .yml), creating folders as needed. Without a path, return the text instead, in
        ``file_format`` (``'py'``, ``'json'`` or ``'yaml'``)."""
        if path is None:
            return render(self.to_dict(), _named_format(file_format), destination="the config")
        text = render(self.to_dict(), format_of(path), destination=str(path))
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return None

    # --- dict-like access ------------------------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_cfg_dict", "_filename"):
            raise AttributeError(name)  # not set up yet (copy, pickle) or a protocol lookup
        return getattr(self._cfg_dict, name)

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        delattr(self._cfg_dict, name)

    def __getitem__(self, key: Any) -> Any:
        return self._cfg_dict[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        _check_not_reserved(key, self._filename)
        self._cfg_dict[key] = value

    def __delitem__(self, key: Any) -> None:
        del self._cfg_dict[key]

    def __contains__(self, key: Any) -> bool:
        return key in self._cfg_dict

    def __iter__(self) -> Iterator:
        return iter(self._cfg_dict)

    def __len__(self) -> int:
        return len(self._cfg_dict)

    def __repr__(self) -> str:
        return f"Config (path: {self._filename}): {self._cfg_dict!r}"

    def copy(self) -> Config:
        """A shallow copy: top-level keys are copied, nested values shared (use
        ``copy.deepcopy`` for an independent config)."""
        return self._with_dict(self._cfg_dict.copy())

    __copy__ = copy

    def __deepcopy__(self, memo: dict) -> Config:
        return self._with_dict(copy.deepcopy(self._cfg_dict, memo))

    def __reduce__(self):
        return Config, (self.to_dict(), self._filename)

    def _with_dict(self, cfg_dict: ConfigDict) -> Config:
        other = Config.__new__(Config)
        object.__setattr__(other, "_filename", self._filename)
        object.__setattr__(other, "_cfg_dict", cfg_dict)
        return other


def _check_not_reserved(key: Any, filename: str | None) -> None:
    if isinstance(key, str) and not key.startswith("_") and hasattr(Config, key):
        where = f"config {filename}" if filename else "the config"
        raise ConfigError(f"{where}: the top-level key '{key}' is reserved (it is an attribute "
                          f"of Config); rename it")


def _named_format(file_format: str) -> str:
    """``'.py'``, ``'py'``, ``'yml'``, ... -> ``'py'``, ``'json'`` or ``'yaml'``."""
    suffix = "." + file_format.lower().lstrip(".")
    if suffix not in FORMATS:
        raise ConfigError(f"unknown config format '{file_format}'; "
                          f"use one of {', '.join(FORMATS)}")
    return FORMATS[suffix]


def _nest_dotted_keys(options: Mapping[str, Any]) -> dict:
    """``{'a.b': 1, 'a.c': 2}`` -> ``{'a': {'b': 1, 'c': 2}}``."""
    nested: dict = {}
    for dotted, value in options.items():
        parts = str(dotted).split(".")
        if not all(parts):
            raise ConfigError(f"option key '{dotted}' has an empty part")
        node = nested
        for depth, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"option '{dotted}' goes inside "
                                  f"'{'.'.join(parts[:depth + 1])}', which another option "
                                  f"sets to {child!r}")
            node = child
        node[parts[-1]] = copy.deepcopy(value)
    return nested


def _option_behind(key: str, options: Mapping[str, Any]) -> str:
    """The option whose dotted key leads to (or through) ``key``."""
    for dotted in options:
        dotted = str(dotted)
        if dotted == key or dotted.startswith(key + ".") or key.startswith(dotted + "."):
            return dotted
    return key
