"""Configs that inherit across packages: two in-process plugins ship config folders under
the scopes 'pkg_a' and 'pkg_b' (hook `detcore_config_roots`), and a config of one inherits,
over three levels and three formats, from the other with `scope::path` bases."""

import types

import pytest

from detcore import cli, hookimpl, plugins
from detcore.config import Config, ConfigError, parse_cfg_options

PKG_A = {
    "base/runtime.py": (
        "default_scope = 'pkg_a'\n"
        "log_level = 'INFO'\n"
        "default_hooks = dict(logger=dict(type='LoggerHook', interval=50),\n"
        "                     checkpoint=dict(type='CheckpointHook', interval=1))\n"),
    "models/detector.yaml": (
        "_base_: ../base/runtime.py\n"
        "width: 256\n"
        "model:\n"
        "  type: Detector\n"
        "  backbone: {type: ResNet, depth: 50, out_indices: !!python/tuple [1, 2, 3]}\n"
        "  head: {type: Head, num_classes: 80, in_channels: 256}\n"),
}
PKG_B = {
    "custom/detector_small.py": (
        "_base_ = 'pkg_a::models/detector.yaml'\n"
        "model = dict(\n"
        "    backbone=dict(_delete_=True, type='TinyNet', channels={{_base_.width}} // 4),\n"
        "    head=dict(num_classes=3, in_channels=_base_.width // 4))\n"
        "default_hooks = dict(logger=dict(interval=10))\n"
        "log_level = _base_.log_level.lower()\n"),
    "custom/data.yaml": "train_dataloader: {batch_size: 2, num_workers: 0}\n",
    "custom/mixed.json": (
        '{"_base_": ["pkg_a::base/runtime.py", "./data.yaml"],\n'
        ' "train_dataloader": {"batch_size": 8}}\n'),
}


def make_package(root, files):
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def roots_plugin(scope, folder):
    return types.SimpleNamespace(detcore_config_roots=hookimpl(lambda: {scope: str(folder)}))


@pytest.fixture
def two_packages(tmp_path):
    folders = {"pkg_a": make_package(tmp_path / "pkg_a" / "configs", PKG_A),
               "pkg_b": make_package(tmp_path / "pkg_b" / "configs", PKG_B)}
    for scope, folder in folders.items():
        plugins.register_plugin(roots_plugin(scope, folder), name=f"test-{scope}",
                                distribution=f"test-dist-{scope}")
    try:
        yield folders
    finally:
        for scope in folders:
            plugins.unregister_plugin(f"test-{scope}")


def test_three_levels_across_two_packages(two_packages):
    cfg = Config.fromfile("pkg_b::custom/detector_small.py")
    assert cfg.filename == str(two_packages["pkg_b"] / "custom" / "detector_small.py")
    assert cfg.to_dict() == {
        "default_scope": "pkg_a",                                   # level 1 (pkg_a, .py)
        "log_level": "info",                                        # level 3 reads level 1
        "default_hooks": {"logger": {"type": "LoggerHook", "interval": 10},
                          "checkpoint": {"type": "CheckpointHook", "interval": 1}},
        "width": 256,                                               # level 2 (pkg_a, .yaml)
        "model": {"type": "Detector",
                  "backbone": {"type": "TinyNet", "channels": 64},  # _delete_ + {{_base_.}}
                  "head": {"type": "Head", "num_classes": 3, "in_channels": 64}},
    }


def test_scoped_and_relative_bases_mix_in_one_file(two_packages):
    cfg = Config.fromfile(two_packages["pkg_b"] / "custom" / "mixed.json")
    assert cfg.train_dataloader == {"batch_size": 8, "num_workers": 0}
    assert cfg.default_hooks.checkpoint.interval == 1


def test_cfg_options_apply_on_top_of_a_scoped_config(two_packages):
    cfg = Config.fromfile("pkg_b::custom/detector_small.py")
    cfg.merge_from_dict(parse_cfg_options(["model.head.num_classes=5",
                                           "model.backbone.strides=(8,16)",
                                           "default_hooks.logger.interval=1"]))
    assert cfg.model.head == {"type": "Head", "num_classes": 5, "in_channels": 64}
    assert cfg.model.backbone.strides == (8, 16)
    assert cfg.default_hooks.logger == {"type": "LoggerHook", "interval": 1}


def test_detcore_config_command_prints_and_writes_the_resolved_config(two_packages, tmp_path,
                                                                      capsys):
    argv = ["config", "pkg_b::custom/detector_small.py", "--cfg-options", "model.head.num_classes=5"]
    assert cli.main(argv) == 0
    printed: dict = {}
    exec(capsys.readouterr().out, printed)
    assert printed["model"]["head"]["num_classes"] == 5
    assert printed["model"]["backbone"] == {"type": "TinyNet", "channels": 64}
    out = tmp_path / "resolved.yaml"
    assert cli.main([*argv, "--out", str(out)]) == 0
    expected = Config.fromfile("pkg_b::custom/detector_small.py")
    expected.merge_from_dict({"model.head.num_classes": 5})
    assert Config.fromfile(out).to_dict() == expected.to_dict()


def test_config_command_reports_errors_without_a_traceback(two_packages, capsys):
    assert cli.main(["config", "pkg_b::custom/detector_small.py",
                     "--cfg-options", "model.head=[1"]) == 2
    err = capsys.readouterr().err
    assert "detcore config: error: --cfg-options item 'model.head=[1': unclosed '['\n" in err
    assert "Traceback" not in err


def test_unknown_scope_lists_the_contributed_scopes(two_packages):
    with pytest.raises(ConfigError) as info:
        Config.fromfile("pkg_c::models/detector.yaml")
    message = str(info.value)
    assert message.startswith("unknown config scope 'pkg_c' in 'pkg_c::models/detector.yaml'; "
                              "known scopes: ")
    assert "pkg_a, pkg_b" in message


def test_missing_file_in_a_scope_names_the_folder_searched(two_packages):
    with pytest.raises(ConfigError) as info:
        Config.fromfile("pkg_a::models/missing.py")
    assert str(info.value) == (f"config file not found: 'pkg_a::models/missing.py' "
                               f"(looked for {two_packages['pkg_a'] / 'models' / 'missing.py'})")


def test_two_plugins_claiming_one_scope_is_an_error(two_packages, tmp_path):
    plugins.register_plugin(roots_plugin("pkg_a", tmp_path), name="test-pkg_a-again",
                            distribution="test-dist-other")
    try:
        with pytest.raises(ConfigError) as info:
            Config.fromfile("pkg_b::custom/detector_small.py")
    finally:
        plugins.unregister_plugin("test-pkg_a-again")
    assert "two plugins contribute configs under the scope 'pkg_a'" in str(info.value)
    assert str(tmp_path) in str(info.value) and str(two_packages["pkg_a"]) in str(info.value)


def test_scopes_disappear_with_their_plugins(tmp_path):
    with pytest.raises(ConfigError, match="unknown config scope 'pkg_a'"):
        Config.fromfile("pkg_a::base/runtime.py")
