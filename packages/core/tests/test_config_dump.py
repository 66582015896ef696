"""Pretty text and dumps: readable Python in MMEngine's `dict(...)` style that executes back
to an equal dict, and .py/.json/.yaml files that load back to an equal config."""

import json
import math
from pathlib import Path

import pytest
import yaml

from detcore.config import Config, ConfigError

HRNET = Path(__file__).parent / "data" / "configs" / "retinanet" / "retinanet_hrnet_2x_coco.py"

EDGE_VALUES = dict(
    tuples=((1,), (), (1, (2, 3))),
    empty=dict(d={}, l=[], t=()),
    keys={"img-path": 1, "class": 2, 0: "zero", "ok": 3},
    floats=[0.1, 1e-12, 2.5e10, float("inf"), -float("inf")],
    text=["it's", 'say "hi"', "line\nbreak", "ünï"],
    flags=[True, False, None],
)


def run_python(text: str) -> dict:
    namespace: dict = {}
    exec(text, namespace)
    return {k: v for k, v in namespace.items() if not k.startswith("__")}


def test_pretty_text_matches_mmengine_style_exactly():
    cfg = Config(dict(
        model=dict(type="RetinaNet", backbone=dict(type="ResNet", depth=50,
                                                   out_indices=(0, 1, 2, 3)),
                   neck=dict(type="FPN", in_channels=[256, 512, 1024, 2048],
                             out_channels=256, start_level=1, add_extra_convs="on_input",
                             num_outs=5)),
        train_pipeline=[dict(type="LoadImageFromFile"), dict(type="RandomFlip", prob=0.5)],
        load_from=None,
        img_scale=(640, 640),
    ))
    assert cfg.pretty_text == (
        "model = dict(\n"
        "    type='RetinaNet',\n"
        "    backbone=dict(type='ResNet', depth=50, out_indices=(0, 1, 2, 3)),\n"
        "    neck=dict(\n"
        "        type='FPN',\n"
        "        in_channels=[256, 512, 1024, 2048],\n"
        "        out_channels=256,\n"
        "        start_level=1,\n"
        "        add_extra_convs='on_input',\n"
        "        num_outs=5,\n"
        "    ),\n"
        ")\n"
        "train_pipeline = [dict(type='LoadImageFromFile'), dict(type='RandomFlip', prob=0.5)]\n"
        "load_from = None\n"
        "img_scale = (640, 640)\n")


def test_pretty_text_lines_fit_the_width_and_execute_back_to_an_equal_dict():
    cfg = Config.fromfile(HRNET)
    text = cfg.pretty_text
    assert max(len(line) for line in text.splitlines()) <= 100
    assert run_python(text) == cfg.to_dict()
    assert cfg.dump() == text


def test_pretty_text_of_edge_values_executes_back_to_equal_values():
    values = run_python(Config(EDGE_VALUES).pretty_text)
    assert values["tuples"] == ((1,), (), (1, (2, 3)))
    assert values["keys"] == {"img-path": 1, "class": 2, 0: "zero", "ok": 3}
    assert values["empty"] == dict(d={}, l=[], t=())
    assert values["floats"][:3] == [0.1, 1e-12, 2.5e10]
    assert values["floats"][3:] == [math.inf, -math.inf]
    assert values["text"] == ["it's", 'say "hi"', "line\nbreak", "ünï"]
    assert values["flags"] == [True, False, None]


@pytest.mark.parametrize("suffix", [".py", ".yaml", ".yml"])
def test_dump_and_reload_is_equal(tmp_path, suffix):
    cfg = Config.fromfile(HRNET)
    out = tmp_path / "work_dir" / f"resolved{suffix}"
    assert cfg.dump(out) is None
    reloaded = Config.fromfile(out)
    assert reloaded.to_dict() == cfg.to_dict()
    assert reloaded.model.backbone.extra.stage2.num_blocks == (4, 4)  # tuples survive
    edge = tmp_path / f"edge{suffix}"
    Config(EDGE_VALUES).dump(edge)
    assert Config.fromfile(edge).to_dict() == EDGE_VALUES


def test_dump_without_a_path_returns_text_in_the_format_asked():
    cfg = Config(dict(a=dict(b=[1, 2], c=(3, 4))))
    assert cfg.dump() == cfg.pretty_text == "a = dict(b=[1, 2], c=(3, 4))\n"
    assert cfg.dump(file_format="yaml") == "a:\n  b: [1, 2]\n  c: !!python/tuple [3, 4]\n"
    assert json.loads(cfg.dump(file_format=".json")) == {"a": {"b": [1, 2], "c": [3, 4]}}
    with pytest.raises(ConfigError, match="unknown config format 'toml'"):
        cfg.dump(file_format="toml")


def test_yaml_dump_is_plain_yaml_with_tagged_tuples(tmp_path):
    out = tmp_path / "cfg.yaml"
    Config(dict(a=dict(b=[1, 2], c=(3, 4)), d="x")).dump(out)
    text = out.read_text()
    assert text == "a:\n  b: [1, 2]\n  c: !!python/tuple [3, 4]\nd: x\n"
    assert yaml.unsafe_load(text) == dict(a=dict(b=[1, 2], c=(3, 4)), d="x")  # standard tag


def test_json_dump_reloads_equal_up_to_tuples_becoming_lists(tmp_path):
    cfg = Config.fromfile(HRNET)
    out = tmp_path / "cfg.json"
    cfg.dump(out)
    as_json = json.loads(json.dumps(cfg.to_dict()))  # what JSON itself does to tuples
    assert Config.fromfile(out).to_dict() == as_json
    assert json.loads(out.read_text())["model"]["neck"]["out_channels"] == 256


def test_dump_of_a_value_no_format_can_hold_names_its_key(tmp_path):
    cfg = Config.fromstring("import math\nmodel = dict(act=dict(fn=math.sqrt))\n", "py")
    for suffix in (".py", ".json", ".yaml"):
        with pytest.raises(ConfigError) as info:
            cfg.dump(tmp_path / f"out{suffix}")
        assert str(info.value) == (
            f"cannot write {tmp_path / f'out{suffix}'}: 'model.act.fn' holds <built-in function "
            f"sqrt> (builtin_function_or_method), which a {suffix} config cannot represent; only "
            f"dicts, lists, tuples, str, int, float, bool and None can be written")
        assert not (tmp_path / f"out{suffix}").exists()


def test_top_level_keys_python_cannot_name_are_reported():
    for key in ("img-path", "_hidden"):
        with pytest.raises(ConfigError, match=f"the top-level key '{key}' cannot be written as a "
                                              f"Python config variable"):
            _ = Config({key: 1}).pretty_text


def test_dump_to_an_unknown_suffix_is_reported(tmp_path):
    with pytest.raises(ConfigError, match=r"config .*out.txt: unsupported file type '.txt'"):
        Config(dict(a=1)).dump(tmp_path / "out.txt")
