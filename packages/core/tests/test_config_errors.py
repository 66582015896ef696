"""Every config error names the file (and line, where there is one) and the key."""

import re
from pathlib import Path

import pytest

from detcore.config import Config, ConfigError


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def load_error(path) -> str:
    with pytest.raises(ConfigError) as info:
        Config.fromfile(path)
    return str(info.value)


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)


def test_python_syntax_error_names_file_and_line(tmp_path):
    path = write(tmp_path, "bad.py", "a = 1\nmodel = dict(type='X'\nb = 2\n")
    message = load_error(path)
    assert message.startswith(f"config {path}, line 2: invalid Python: ")
    assert "'(' was never closed" in message


def test_python_runtime_error_names_file_and_line(tmp_path):
    path = write(tmp_path, "bad.py", "a = 1\n\nb = undefined_name + 1\n")
    assert load_error(path) == (f"config {path}, line 3: NameError: "
                                f"name 'undefined_name' is not defined")


def test_yaml_error_names_file_and_line(tmp_path):
    path = write(tmp_path, "bad.yaml", "a: 1\nb: [1, 2\nc: 3\n")
    message = load_error(path)
    assert message.startswith(f"config {path}, line 3: invalid YAML: ")
    assert "expected ',' or ']'" in message


def test_json_error_names_file_and_line(tmp_path):
    path = write(tmp_path, "bad.json", '{\n  "a": 1,\n  "b": 2,\n}\n')
    assert load_error(path) == (f"config {path}, line 4: invalid JSON: "
                                f"Expecting property name enclosed in double quotes")


def test_a_top_level_that_is_not_a_mapping_is_rejected(tmp_path):
    path = write(tmp_path, "list.yaml", "- 1\n- 2\n")
    assert load_error(path) == (f"config {path}: the top level must be a mapping of keys to "
                                f"values, not a list")


def test_missing_config_file_names_what_was_asked_and_where_it_looked(tmp_path):
    assert load_error(tmp_path / "nope.py") == (f"config file not found: "
                                                f"'{tmp_path / 'nope.py'}' "
                                                f"(looked for {tmp_path / 'nope.py'})")


def test_missing_base_names_the_child_and_the_path_tried(tmp_path):
    child = write(tmp_path, "configs/child.py", "_base_ = ['../_base_/missing.py']\n")
    assert load_error(child) == (f"config {child}: _base_ file '../_base_/missing.py' not found "
                                 f"(looked for {tmp_path / '_base_' / 'missing.py'})")


@pytest.mark.parametrize("text, shown", [("_base_ = 3\n", "int 3"),
                                         ("_base_ = ['a.py', 2]\n", "list ['a.py', 2]")])
def test_bad_base_type_is_reported(tmp_path, text, shown):
    path = write(tmp_path, "child.py", text)
    assert load_error(path) == (f"config {path}: _base_ must be a string or a list of "
                                f"strings, not {shown}")


def test_bad_base_type_in_yaml_is_reported(tmp_path):
    path = write(tmp_path, "child.yaml", "_base_: {a: 1}\n")
    assert load_error(path) == (f"config {path}: _base_ must be a string or a list of "
                                f"strings, not dict {{'a': 1}}")


def test_computed_base_in_python_is_reported_with_its_line(tmp_path):
    path = write(tmp_path, "child.py", "root = '../'\n_base_ = root + 'base.py'\n")
    assert load_error(path) == (f"config {path}, line 2: _base_ must be a literal string or "
                                f"list of strings (it is read before the file runs)")


def test_base_assigned_twice_is_reported(tmp_path):
    write(tmp_path, "a.py", "a = 1\n")
    path = write(tmp_path, "child.py", "_base_ = 'a.py'\nif True:\n    _base_ = 'b.py'\n")
    assert load_error(path) == (f"config {path}, line 3: _base_ may be set only once, at the "
                                f"top level, as `_base_ = [...]`")


def test_two_bases_defining_one_key_names_both_files_and_the_key(tmp_path):
    a = write(tmp_path, "a.py", "model = dict(depth=50)\nx = 1\n")
    b = write(tmp_path, "b.yaml", "y: 2\nmodel: {depth: 101}\n")
    child = write(tmp_path, "child.py", "_base_ = ['a.py', 'b.yaml']\n")
    assert load_error(child) == (f"config {child}: its _base_ files {a} and {b} both define "
                                 f"the top-level key 'model'; a key may come from only one base "
                                 f"(set it in child.py itself to override)")


def test_cycles_are_reported_with_the_chain(tmp_path):
    a = write(tmp_path, "a.py", "_base_ = 'b.yaml'\n")
    b = write(tmp_path, "b.yaml", "_base_: c.json\n")
    c = write(tmp_path, "c.json", '{"_base_": "a.py"}')
    assert load_error(a) == f"cyclic _base_ inheritance: {a} -> {b} -> {c} -> {a}"


def test_a_config_naming_itself_as_base_is_a_cycle(tmp_path):
    a = write(tmp_path, "a.py", "_base_ = './a.py'\n")
    assert load_error(a) == f"cyclic _base_ inheritance: {a} -> {a}"


def test_unknown_scope_lists_the_known_ones(tmp_path):
    child = write(tmp_path, "child.py", "_base_ = 'nosuchpkg::x.py'\n")
    message = load_error(child)
    assert message.startswith(f"unknown config scope 'nosuchpkg' in 'nosuchpkg::x.py' (named in "
                              f"the _base_ of {child}); known scopes: ")
    assert "unknown config scope 'nosuchpkg' in 'nosuchpkg::x.py'; known scopes: " in \
        load_error("nosuchpkg::x.py")


def test_unsupported_suffix_is_reported(tmp_path):
    path = write(tmp_path, "cfg.toml", "a = 1\n")
    assert load_error(path) == (f"config {path}: unsupported file type '.toml'; "
                                f"use one of .py, .json, .yaml, .yml")
    with pytest.raises(ConfigError, match="unknown config format 'toml'; use one of .py"):
        Config.fromstring("a = 1", "toml")


def test_base_reference_to_a_missing_key_names_file_line_and_key(tmp_path):
    write(tmp_path, "base.py", "model = dict(neck=dict(out_channels=256))\n")
    child = write(tmp_path, "child.py",
                  "_base_ = 'base.py'\n\nwidth = {{_base_.model.nekc.out_channels}}\n")
    assert load_error(child) == (f"config {child}, line 3: {{{{_base_.model.nekc.out_channels}}}} "
                                 f"cannot be resolved: 'model' has no 'nekc'")


def test_base_reference_without_bases_is_reported(tmp_path):
    child = write(tmp_path, "child.yaml", "a: 1\nwidth: {{_base_.width}}\n")
    assert load_error(child) == (f"config {child}, line 2: {{{{_base_.width}}}} is used but the "
                                 f"config has no _base_")


def test_base_attribute_to_a_missing_key_names_the_key_and_suggests(tmp_path):
    write(tmp_path, "base.py", "model = dict(backbone=dict(depth=50))\n")
    child = write(tmp_path, "child.py", "_base_ = 'base.py'\nd = _base_.model.backbone.dpth\n")
    assert load_error(child) == (
        f"config {child}, line 2: AttributeError: '_base_.model.backbone' in config {child} "
        f"has no key 'dpth'; did you mean 'depth'?")


def test_child_dict_over_a_base_scalar_needs_delete(tmp_path):
    write(tmp_path, "base.py", "model = dict(norm_cfg='BN')\n")
    child = write(tmp_path, "child.py", "_base_ = 'base.py'\nmodel = dict(norm_cfg=dict(type='GN'))\n")
    assert load_error(child) == (f"config {child}: 'model.norm_cfg': cannot merge a dict into a "
                                 f"str ('BN'); add _delete_=True to the dict to replace the "
                                 f"value instead")


def test_reserved_top_level_key_is_reported(tmp_path):
    path = write(tmp_path, "cfg.py", "filename = 'a.jpg'\n")
    assert load_error(path) == (f"config {path}: the top-level key 'filename' is reserved (it is "
                                f"an attribute of Config); rename it")


def test_unreadable_file_is_reported(tmp_path):
    path = tmp_path / "latin1.py"
    path.write_bytes(b"a = '\xe9'\n")
    assert re.fullmatch(rf"config {re.escape(str(path))}: cannot be read: 'utf-8' codec .*",
                        load_error(path))
