"""Loading a config file with its ``_base_`` files, recursively.

A file's bases are loaded (each with its own bases), merged left to right (two bases may
not define the same top-level key), and the file's own keys are merged on top
(see ``merging``). Cycles are reported with the chain of files that forms them.
"""

from __future__ import annotations

from pathlib import Path

from detcore.config.config_dict import wrap
from detcore.config.errors import ConfigError
from detcore.config.merging import MergeConflict, merge, strip_delete_keys
from detcore.config.readers import BASE_KEY, parse
from detcore.config.sources import format_of, locate
from detcore.config.templates import (
    check_base_references,
    find_base_references,
    replace_base_references,
    substitute_file_variables,
)


def load_file(path: Path, chain: tuple[Path, ...] = ()) -> dict:
    """The fully resolved keys of the config file at ``path`` (an absolute path).

    ``chain`` holds the files whose ``_base_`` led here, to detect cycles.
    """
    if path in chain:
        cycle = " -> ".join(str(p) for p in (*chain[chain.index(path):], path))
        raise ConfigError(f"cyclic _base_ inheritance: {cycle}")
    file_format = format_of(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"config {path}: cannot be read: {err}") from None
    return load_text(text, path, file_format, chain)


def load_text(text: str, path: Path, file_format: str, chain: tuple[Path, ...] = ()) -> dict:
    """The fully resolved keys of config ``text``, read as if it were the file ``path``
    (which names it in errors and anchors its relative ``_base_`` paths)."""
    text = substitute_file_variables(text, path)
    references = find_base_references(text)
    parsed = parse(replace_base_references(text, file_format), path, file_format)
    base_paths = [locate(spec, asked_by=path) for spec in _base_specs(parsed.base_spec, path)]
    bases = _merge_bases(base_paths, (*chain, path)) if base_paths else None
    check_base_references(references, bases, path)
    if bases is None:
        return strip_delete_keys(parsed.evaluate(None))
    # Python configs see (and may change) the bases as `_base_` while they run.
    base_view = wrap(bases, str(path), BASE_KEY, rebuild=True)
    own = parsed.evaluate(base_view)
    try:
        return merge(base_view, own)
    except MergeConflict as err:
        raise ConfigError(f"config {path}: {err}") from None


def _base_specs(base_spec, path: Path) -> list[str]:
    if base_spec is None:
        return []
    if isinstance(base_spec, str):
        return [base_spec]
    if isinstance(base_spec, (list, tuple)) and all(isinstance(s, str) for s in base_spec):
        return list(base_spec)
    raise ConfigError(f"config {path}: {BASE_KEY} must be a string or a list of strings, "
                      f"not {type(base_spec).__name__} {base_spec!r}")


def _merge_bases(base_paths: list[Path], chain: tuple[Path, ...]) -> dict:
    merged: dict = {}
    defined_in: dict[str, Path] = {}
    for base_path in base_paths:
        keys = load_file(base_path, chain)
        for key in keys:
            if key in defined_in:
                raise ConfigError(
                    f"config {chain[-1]}: its _base_ files {defined_in[key]} and {base_path} "
                    f"both define the top-level key '{key}'; a key may come from only one "
                    f"base (set it in {chain[-1].name} itself to override)")
            defined_in[key] = base_path
        merged.update(keys)
    return merged
