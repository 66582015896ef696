"""Reading one config file into its own keys, before it is merged with its bases.

Python configs are EXECUTED as Python code (as in MMEngine): only load Python configs you
trust. Their module-level names become config keys, except private names (``_x``), and
modules, functions and classes (``import``\\ s and helpers). ``_base_`` is read from the
source without running it, and while the file runs ``_base_`` is the merged config of its
bases, so ``depth = _base_.model.backbone.depth`` reads a base value and
``_base_.visualizer.vis_backends = [...]`` changes one before the file's own keys merge in.

JSON and YAML configs are only parsed (``json`` and ``yaml.safe_load`` rules): they never
run code.
"""

from __future__ import annotations

import ast
import copy
import json
from collections.abc import Callable
from pathlib import Path
from types import BuiltinFunctionType, FunctionType, ModuleType
from typing import Any, NamedTuple

from detcore.config.config_dict import ConfigDict
from detcore.config.errors import ConfigError
from detcore.config.templates import BASE_VALUE_FUNCTION, lookup, resolve_base_markers

BASE_KEY = "_base_"


class ParsedConfig(NamedTuple):
    """A parsed file: its ``_base_`` value (None if absent) and how to get its own keys
    once the merged bases (None if there are none) are known."""

    base_spec: Any
    evaluate: Callable[[ConfigDict | None], dict]


def parse(text: str, path: Path, file_format: str) -> ParsedConfig:
    if file_format == "py":
        return _parse_python(text, path)
    if file_format == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ConfigError(f"config {path}, line {err.lineno}: invalid JSON: {err.msg}") \
                from None
    else:
        from detcore.config import yaml_format

        data = yaml_format.load(text, path)
    return _parsed_mapping({} if data is None else data, path)


def _parsed_mapping(data: Any, path: Path) -> ParsedConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"config {path}: the top level must be a mapping of keys to values, "
                          f"not a {type(data).__name__}")
    base_spec = data.pop(BASE_KEY, None)

    def evaluate(bases: ConfigDict | None) -> dict:
        return data if bases is None else resolve_base_markers(data, bases)

    return ParsedConfig(base_spec, evaluate)


def _parse_python(text: str, path: Path) -> ParsedConfig:
    try:
        tree = ast.parse(text, filename=str(path))
    except SyntaxError as err:
        raise ConfigError(f"config {path}, line {err.lineno}: invalid Python: {err.msg}") \
            from None
    base_spec, found_base, body = None, False, []
    for statement in tree.body:
        if _is_base_assignment(statement) and not found_base:
            base_spec, found_base = _literal_base(statement, path), True
        else:
            body.append(statement)
    for node in ast.walk(ast.Module(body=body, type_ignores=[])):
        if isinstance(node, ast.Name) and node.id == BASE_KEY and isinstance(node.ctx, ast.Store):
            raise ConfigError(f"config {path}, line {node.lineno}: {BASE_KEY} may be set only "
                              f"once, at the top level, as `{BASE_KEY} = [...]`")
    tree.body = body
    try:
        code = compile(tree, str(path), "exec")
    except SyntaxError as err:
        raise ConfigError(f"config {path}, line {err.lineno}: invalid Python: {err.msg}") \
            from None
    return ParsedConfig(base_spec, lambda bases: _execute(code, path, bases))


def _is_base_assignment(statement: ast.stmt) -> bool:
    return (isinstance(statement, ast.Assign) and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name) and statement.targets[0].id == BASE_KEY)


def _literal_base(statement: ast.Assign, path: Path) -> Any:
    try:
        return ast.literal_eval(statement.value)
    except ValueError:
        raise ConfigError(f"config {path}, line {statement.lineno}: {BASE_KEY} must be a literal "
                          f"string or list of strings (it is read before the file runs)") \
            from None


def _execute(code, path: Path, bases: ConfigDict | None) -> dict:
    namespace: dict[str, Any] = {"__name__": "__detcore_config__", "__file__": str(path)}
    if bases is not None:
        namespace[BASE_KEY] = bases
        namespace[BASE_VALUE_FUNCTION] = lambda key: copy.deepcopy(lookup(bases, key))
    try:
        exec(code, namespace)  # noqa: S102 -- Python configs are programs, by design
    except Exception as err:
        line = _line_in_file(err, path)
        where = f"config {path}, line {line}" if line else f"config {path}"
        raise ConfigError(f"{where}: {type(err).__name__}: {err}") from err
    return {name: value for name, value in namespace.items() if _is_config_entry(name, value)}


def _is_config_entry(name: str, value: Any) -> bool:
    helper = (ModuleType, FunctionType, BuiltinFunctionType, type)
    return not name.startswith("_") and not isinstance(value, helper)


def _line_in_file(err: BaseException, path: Path) -> int | None:
    """The last line of ``path`` in the traceback of ``err``."""
    line, tb = None, err.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == str(path):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
