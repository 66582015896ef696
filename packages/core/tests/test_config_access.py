"""Reading and changing a Config: attribute and item access, copies, pickling and
`merge_from_dict` (MMEngine's rules for `--cfg-options`)."""

import copy
import pickle

import pytest

from detcore.config import Config, ConfigDict, ConfigError

SOURCE = """
model = dict(type='RetinaNet', backbone=dict(type='ResNet', depth=50, out_indices=(0, 1, 2, 3),
             stages=[dict(depth=3), dict(depth=4)]))
param_scheduler = [dict(type='LinearLR', end=500), dict(type='MultiStepLR', milestones=[8, 11])]
test_dataloader = dict(dataset=dict(data_prefix=dict(img='val2017/', seg='panoptic/')))
norm = 'BN'
"""


@pytest.fixture
def cfg(tmp_path):
    path = tmp_path / "retina.py"
    path.write_text(SOURCE)
    return Config.fromfile(path)


def test_attribute_and_item_access_agree_at_every_depth(cfg):
    assert cfg.model.backbone.depth == cfg["model"]["backbone"]["depth"] == 50
    assert cfg.model.backbone.stages[1].depth == 4
    assert cfg.param_scheduler[0]["end"] == 500
    assert cfg.get("norm") == "BN" and cfg.get("absent", 7) == 7
    assert "model" in cfg and "absent" not in cfg
    assert list(cfg) == ["model", "param_scheduler", "test_dataloader", "norm"]
    assert len(cfg) == 4 and dict(cfg.items())["norm"] == "BN"


def test_missing_attribute_names_key_place_and_file(cfg):
    with pytest.raises(AttributeError) as info:
        _ = cfg.model.backbone.dpth
    assert str(info.value) == (f"'model.backbone' in config {cfg.filename} has no key 'dpth'; "
                               f"did you mean 'depth'?")
    with pytest.raises(AttributeError) as info:
        _ = cfg.optimizer
    assert str(info.value) == (f"config {cfg.filename} has no key 'optimizer'; its keys are: "
                               f"model, param_scheduler, test_dataloader, norm")
    with pytest.raises(AttributeError, match=r"'param_scheduler.1' in config .* has no key 'x'"):
        _ = cfg.param_scheduler[1].x
    with pytest.raises(KeyError):
        cfg["optimizer"]


def test_setting_values_wraps_new_dicts(cfg):
    cfg.model.neck = dict(type="FPN", extra=dict(n=5))
    cfg["work_dir"] = "out"
    cfg.custom_hooks = [dict(type="EMAHook")]
    assert cfg.model.neck.extra.n == 5 and cfg.work_dir == "out"
    assert cfg.custom_hooks[0].type == "EMAHook"
    with pytest.raises(AttributeError, match=r"'model.neck.extra' in config .* has no key 'm'"):
        _ = cfg.model.neck.extra.m
    del cfg.norm
    del cfg.model["type"]
    assert "norm" not in cfg and "type" not in cfg.model


def test_setting_a_reserved_key_is_refused(cfg):
    with pytest.raises(ConfigError, match="the top-level key 'pretty_text' is reserved"):
        cfg.pretty_text = "x"


def test_config_dict_behaves_as_a_dict():
    d = ConfigDict(a=dict(b=1), c=[dict(d=2)])
    assert d == {"a": {"b": 1}, "c": [{"d": 2}]}
    assert d.a.b == 1 and d.c[0].d == 2
    d.update(e=dict(f=3))
    assert d.setdefault("g", dict(h=4)).h == 4 and d.e.f == 3
    assert type(d.to_dict()["a"]) is dict
    with pytest.raises(AttributeError, match=r"^the config has no key 'x'; its keys are: a, c"):
        _ = d.x


def test_copy_is_shallow_and_deepcopy_is_independent(cfg):
    shallow, deep = cfg.copy(), copy.deepcopy(cfg)
    assert isinstance(shallow, Config) and shallow.filename == deep.filename == cfg.filename
    cfg.model.backbone.depth = 101
    cfg.norm = "GN"
    assert shallow.model.backbone.depth == 101 and shallow.norm == "BN"
    assert deep.model.backbone.depth == 50 and deep.norm == "BN"
    assert copy.copy(cfg).norm == "GN"


def test_pickle_round_trip_keeps_values_filename_and_attribute_access(cfg):
    restored = pickle.loads(pickle.dumps(cfg))
    assert restored.to_dict() == cfg.to_dict() and restored.filename == cfg.filename
    assert restored.model.backbone.out_indices == (0, 1, 2, 3)
    nested = pickle.loads(pickle.dumps(cfg.model))
    assert isinstance(nested, ConfigDict) and nested.backbone.depth == 50


def test_to_dict_is_plain_and_detached(cfg):
    plain = cfg.to_dict()
    assert type(plain["model"]["backbone"]) is dict
    assert type(plain["param_scheduler"][0]) is dict
    plain["model"]["backbone"]["depth"] = 0
    assert cfg.model.backbone.depth == 50


def test_repr_names_the_file(cfg):
    assert repr(cfg).startswith(f"Config (path: {cfg.filename}): {{'model': {{'type': 'Retina")


# --- merge_from_dict ---------------------------------------------------------------------


def test_merge_dotted_keys_into_dicts_and_list_items(cfg):
    cfg.merge_from_dict({"model.backbone.depth": 101, "param_scheduler.0.end": 1000,
                         "model.backbone.stages.1.depth": 6, "new.key": "made"})
    assert cfg.model.backbone.depth == 101 and cfg.model.type == "RetinaNet"
    assert cfg.param_scheduler[0] == {"type": "LinearLR", "end": 1000}
    assert cfg.param_scheduler[1].milestones == [8, 11]
    assert cfg.model.backbone.stages == [{"depth": 3}, {"depth": 6}]
    assert cfg.new == {"key": "made"}
    assert cfg.model.backbone.stages[1].depth == 6  # merged values are ConfigDicts too


def test_merge_replaces_lists_and_merges_dict_values(cfg):
    cfg.merge_from_dict({"param_scheduler.1.milestones": [16, 22],
                         "model.backbone": {"depth": 18}})
    assert cfg.param_scheduler[1].milestones == [16, 22]
    assert cfg.model.backbone == dict(type="ResNet", depth=18, out_indices=(0, 1, 2, 3),
                                      stages=[dict(depth=3), dict(depth=4)])


def test_merge_with_delete_replaces_the_dict(cfg):
    # the MMDetection panoptic test-dev recipe
    cfg.merge_from_dict({"test_dataloader.dataset.data_prefix.img": "test2017",
                         "test_dataloader.dataset.data_prefix._delete_": True})
    assert cfg.test_dataloader.dataset.data_prefix == {"img": "test2017"}


def test_merge_into_a_missing_list_index_names_the_full_key(cfg):
    with pytest.raises(ConfigError) as info:
        cfg.merge_from_dict({"model.backbone.depth": 18, "param_scheduler.5.end": 9})
    assert str(info.value) == (f"cannot apply option 'param_scheduler.5.end' to config "
                               f"{cfg.filename}: 'param_scheduler.5': index 5 is out of range: "
                               f"'param_scheduler' is a list of 2 items")
    assert cfg.model.backbone.depth == 50  # nothing applied


def test_merge_list_index_needs_allow_list_keys(cfg):
    with pytest.raises(ConfigError) as info:
        cfg.merge_from_dict({"param_scheduler.0.end": 9}, allow_list_keys=False)
    assert str(info.value) == (f"cannot apply option 'param_scheduler.0.end' to config "
                               f"{cfg.filename}: 'param_scheduler': is a list; setting its items "
                               f"by index needs allow_list_keys=True")


def test_merge_a_name_into_a_list_is_reported(cfg):
    with pytest.raises(ConfigError, match=r"cannot apply option 'param_scheduler.end' to config "
                                          r".*: 'param_scheduler': is a list, so it has no key "
                                          r"'end'; set its items by index, such as "
                                          r"'param_scheduler.0'"):
        cfg.merge_from_dict({"param_scheduler.end": 9})


def test_merge_below_a_scalar_is_reported(cfg):
    with pytest.raises(ConfigError) as info:
        cfg.merge_from_dict({"norm.type": "GN"})
    assert str(info.value) == (f"cannot apply option 'norm.type' to config {cfg.filename}: "
                               f"'norm': cannot merge a dict into a str ('BN'); add _delete_=True "
                               f"to the dict to replace the value instead")


def test_merge_conflicting_or_empty_option_keys_are_reported(cfg):
    with pytest.raises(ConfigError, match="option 'a.b' goes inside 'a', which another option "
                                          "sets to 1"):
        cfg.merge_from_dict({"a": 1, "a.b": 2})
    with pytest.raises(ConfigError, match="option key 'a..b' has an empty part"):
        cfg.merge_from_dict({"a..b": 1})
