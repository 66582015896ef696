"""Reading and writing annotation files (JSON, YAML, pickle) with errors that name the file."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

from detdatasets.datasets.errors import DatasetError

JSON_SUFFIXES = (".json",)
YAML_SUFFIXES = (".yaml", ".yml")
PICKLE_SUFFIXES = (".pkl", ".pickle")


def load_annotation_file(path: str | os.PathLike) -> Any:
    """Parse a .json, .yaml/.yml or .pkl/.pickle file by its suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in JSON_SUFFIXES + YAML_SUFFIXES + PICKLE_SUFFIXES:
        raise DatasetError(f"{path}: unsupported annotation file type '{suffix}'; expected one "
                           f"of {', '.join(JSON_SUFFIXES + YAML_SUFFIXES + PICKLE_SUFFIXES)}")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"annotation file not found: {path}") from None
    if suffix in JSON_SUFFIXES:
        try:
            return json.loads(raw)
        except json.JSONDecodeError as err:
            raise DatasetError(f"{path}: malformed JSON at line {err.lineno} column {err.colno}: "
                               f"{err.msg}") from None
        except UnicodeDecodeError as err:
            raise DatasetError(f"{path}: not a text file ({err})") from None
    if suffix in YAML_SUFFIXES:
        import yaml

        try:
            return yaml.safe_load(raw)
        except yaml.YAMLError as err:
            raise DatasetError(f"{path}: malformed YAML: {err}") from None
    try:
        return pickle.loads(raw)
    except Exception as err:  # pickle raises many kinds of errors on a bad file
        raise DatasetError(f"{path}: cannot unpickle: {type(err).__name__}: {err}") from None


def dump_annotation_file(obj: Any, path: str | os.PathLike) -> None:
    """Write ``obj`` as .json, .yaml/.yml or .pkl/.pickle by the suffix, creating folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix in JSON_SUFFIXES:
        path.write_text(json.dumps(obj, separators=(",", ":")))
    elif suffix in YAML_SUFFIXES:
        import yaml

        path.write_text(yaml.safe_dump(obj, sort_keys=False))
    elif suffix in PICKLE_SUFFIXES:
        path.write_bytes(pickle.dumps(obj, protocol=4))
    else:
        raise ValueError(f"{path}: unsupported annotation file type '{suffix}'")
