"""Where a config file is: plain paths, paths relative to the file that names them, and
``scope::relative/path.py`` paths into a folder that a plugin ships."""

from __future__ import annotations

import os
import re
from pathlib import Path

from detcore.config.errors import ConfigError

#: Config formats by file suffix.
FORMATS = {".py": "py", ".json": "json", ".yaml": "yaml", ".yml": "yaml"}

_SCOPED = re.compile(r"^(?P<scope>[A-Za-z_][\w.\-]*)::(?P<path>.+)$")


def format_of(path: str | Path) -> str:
    """``'py'``, ``'json'`` or ``'yaml'``, from the suffix of ``path``."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ConfigError(f"config {path}: unsupported file type '{suffix}'; "
                          f"use one of {', '.join(FORMATS)}")
    return FORMATS[suffix]


def locate(spec: str | Path, asked_by: Path | None = None) -> Path:
    """The absolute path of the config ``spec`` names.

    ``spec`` is ``scope::relative/path`` (resolved in the folder a plugin contributes through
    the ``detcore_config_roots`` hook), an absolute path, or a path relative to the folder
    of ``asked_by`` (the config whose ``_base_`` names it; the working directory if None).
    """
    text = str(spec)
    scoped = _SCOPED.match(text)
    if scoped:
        candidate = _scope_root(scoped["scope"], text, asked_by) / scoped["path"]
    else:
        candidate = Path(text).expanduser()
        if not candidate.is_absolute():
            candidate = (asked_by.parent if asked_by else Path.cwd()) / candidate
    if not candidate.is_file():
        candidate = os.path.normpath(candidate)
        if asked_by is None:
            raise ConfigError(f"config file not found: '{text}' (looked for {candidate})")
        raise ConfigError(f"config {asked_by}: _base_ file '{text}' not found "
                          f"(looked for {candidate})")
    return candidate.resolve()


def _scope_root(scope: str, spec: str, asked_by: Path | None) -> Path:
    from detcore import plugins

    try:
        roots = plugins.config_roots()
    except ValueError as err:  # two plugins claim the same scope
        raise ConfigError(str(err)) from None
    if scope not in roots:
        known = ", ".join(sorted(roots)) or "none (no installed plugin ships configs)"
        asker = f" (named in the _base_ of {asked_by})" if asked_by else ""
        raise ConfigError(f"unknown config scope '{scope}' in '{spec}'{asker}; "
                          f"known scopes: {known}")
    return Path(roots[scope])
