"""Loading configs: the three formats, `_base_` inheritance over four levels and three
formats, `_delete_`, reuse of base values and the predefined file variables.

Expected values are written out by hand from the files in data/configs (which follow
MMDetection 3.x's RetinaNet configs and its documented HRNet `_delete_` example).
"""

from pathlib import Path

from detcore.config import Config, ConfigDict

CONFIGS = Path(__file__).parent / "data" / "configs"
RETINANET = CONFIGS / "retinanet"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_level_two_merges_four_bases_of_three_formats_and_its_own_keys():
    cfg = Config.fromfile(RETINANET / "retinanet_r50_fpn_1x_coco.py")
    assert cfg.filename == str(RETINANET / "retinanet_r50_fpn_1x_coco.py")
    # one key from each base
    assert cfg.model.backbone.depth == 50                       # models/*.py
    assert cfg.train_dataloader.dataset.data_prefix == {"img": "train2017/"}  # datasets/*.yaml
    assert cfg.param_scheduler[1].milestones == [8, 11]         # schedules/*.json
    assert cfg.default_scope == "mmdet"                          # default_runtime.py
    # the child's optimizer merges into the JSON base's optim_wrapper
    assert cfg.optim_wrapper == {"type": "OptimWrapper", "optimizer": dict(
        type="SGD", lr=0.01, momentum=0.9, weight_decay=0.0001)}
    # bases merge left to right, then the child
    assert list(cfg)[:4] == ["model", "dataset_type", "data_root", "backend_args"]
    assert list(cfg)[-1] == "resume"


def test_yaml_base_values_keep_their_types_including_tuples_and_aliases():
    cfg = Config.fromfile(RETINANET / "retinanet_r50_fpn_1x_coco.py")
    assert cfg.train_pipeline[2] == dict(type="Resize", scale=(1333, 800), keep_ratio=True)
    assert isinstance(cfg.train_pipeline[2].scale, tuple)
    assert cfg.train_dataloader.dataset.pipeline == cfg.train_pipeline
    assert cfg.backend_args is None and cfg.train_dataloader.persistent_workers is True


def test_level_three_yaml_child_of_a_python_config_replaces_lists_and_merges_dicts():
    cfg = Config.fromfile(RETINANET / "retinanet_r50_fpn_2x_coco.yaml")
    assert cfg.train_cfg == dict(type="EpochBasedTrainLoop", max_epochs=24, val_interval=1)
    assert [s.type for s in cfg.param_scheduler] == ["LinearLR", "MultiStepLR"]
    assert cfg.param_scheduler[1].milestones == [16, 22] and cfg.param_scheduler[1].end == 24
    assert cfg.optim_wrapper.optimizer.lr == 0.01  # from level 2
    assert cfg.model.backbone.type == "ResNet"     # from level 1


def test_level_four_python_child_of_yaml_deletes_reuses_and_edits_bases():
    cfg = Config.fromfile(RETINANET / "retinanet_hrnet_2x_coco.py")
    backbone = cfg.model.backbone
    # _delete_=True: nothing of the ResNet backbone is left
    assert set(backbone) == {"type", "extra", "init_cfg"}
    assert backbone.type == "HRNet"
    assert backbone.extra.stage4 == dict(num_modules=3, num_branches=4, block="BASIC",
                                         num_blocks=(4, 4, 4, 4),
                                         num_channels=(18, 36, 72, 144))
    # {{_base_.model.neck.out_channels}} and _base_.model.neck.num_outs read base values
    assert cfg.model.neck == dict(type="HRFPN", in_channels=[18, 36, 72, 144],
                                  out_channels=256, num_outs=5)
    # keys the child did not touch are still merged in from every level
    assert cfg.model.bbox_head.anchor_generator.strides == [8, 16, 32, 64, 128]
    assert cfg.train_cfg.max_epochs == 24
    # {{_base_.train_pipeline}} is a copy: changing it leaves the base's pipeline alone
    assert cfg.test_pipeline[2].keep_ratio is False
    assert cfg.train_pipeline[2].keep_ratio is True
    # `_base_.visualizer.vis_backends = [...]` changed the base in place
    assert [b.type for b in cfg.visualizer.vis_backends] == ["LocalVisBackend",
                                                             "TensorboardVisBackend"]
    assert cfg.warmup_iters == 500  # int(math.sqrt(250000)); `math` itself is no key


def test_python_config_keeps_only_public_data_names():
    cfg = Config.fromfile(RETINANET / "retinanet_hrnet_2x_coco.py")
    for helper in ("math", "_stage", "_hrnet_channels", "_base_"):
        assert helper not in cfg
    cfg = Config.fromstring(
        "import os\nfrom os import path\nclass Helper: pass\nsquare = lambda x: x * x\n"
        "_private = 1\n__dunder__ = 2\nvalue = square(3)\n", ".py")
    assert cfg.to_dict() == {"value": 9}


def test_predefined_file_variables_name_the_config_file():
    cfg = Config.fromfile(RETINANET / "retinanet_hrnet_2x_coco.py")
    assert cfg.work_dir == "./work_dirs/retinanet_hrnet_2x_coco"
    assert cfg.config_folder == str(RETINANET)


def test_all_four_predefined_variables_in_yaml(tmp_path):
    path = write(tmp_path, "exp/run_1.yaml",
                 "dir: '{{ fileDirname }}'\nname: '{{fileBasename}}'\n"
                 "stem: '{{ fileBasenameNoExtension }}'\nsuffix: '{{ fileExtname }}'\n")
    assert Config.fromfile(path).to_dict() == {
        "dir": str(tmp_path / "exp"), "name": "run_1.yaml", "stem": "run_1", "suffix": ".yaml"}


def test_base_references_in_json_and_yaml_are_whole_values(tmp_path):
    write(tmp_path, "base.py", "model = dict(neck=dict(out_channels=256))\n"
                               "pipeline = [dict(type='A'), dict(type='B')]\n")
    yaml_child = write(tmp_path, "child.yaml", "_base_: base.py\nwidth: {{_base_.model.neck.out_channels}}\n"
                                               "second: {{ _base_.pipeline.1 }}\n")
    json_child = write(tmp_path, "child.json", '{"_base_": "base.py", "neck": {{_base_.model.neck}},'
                                               ' "first": "{{_base_.pipeline.0}}"}')
    cfg = Config.fromfile(yaml_child)
    assert cfg.width == 256 and cfg.second == {"type": "B"}
    cfg = Config.fromfile(json_child)  # quoted, the file stays valid JSON
    assert cfg.neck == {"out_channels": 256} and cfg.first == {"type": "A"}


def test_base_reference_is_an_expression_in_python(tmp_path):
    write(tmp_path, "base.py", "lr = 0.01\n")
    child = write(tmp_path, "child.py", "_base_ = 'base.py'\nlr = {{_base_.lr}} * 2\n")
    assert Config.fromfile(child).lr == 0.02


def test_delete_without_a_base_value_is_dropped_and_none_base_is_replaced(tmp_path):
    write(tmp_path, "base.py", "norm_cfg = None\nhead = dict(loss=dict(type='L1', weight=2))\n")
    child = write(tmp_path, "child.py",
                  "_base_ = ['base.py']\nnorm_cfg = dict(type='GN', num_groups=32)\n"
                  "head = dict(loss=dict(_delete_=True, type='GIoU'), extra=dict(_delete_=True, a=1))\n")
    cfg = Config.fromfile(child)
    assert cfg.norm_cfg == {"type": "GN", "num_groups": 32}
    assert cfg.head == {"loss": {"type": "GIoU"}, "extra": {"a": 1}}


def test_scalars_and_lists_in_the_child_replace_the_base(tmp_path):
    write(tmp_path, "base.yml", "a: {x: [1, 2, 3], y: 1}\nb: [1, 2]\n")
    child = write(tmp_path, "child.json", '{"_base_": ["base.yml"], "a": {"x": [9]}, "b": "s"}')
    assert Config.fromfile(child).to_dict() == {"a": {"x": [9], "y": 1}, "b": "s"}


def test_empty_yaml_is_an_empty_config_and_bases_may_be_a_tuple(tmp_path):
    write(tmp_path, "empty.yaml", "# nothing\n")
    write(tmp_path, "other.py", "a = 1\n")
    child = write(tmp_path, "child.py", "_base_ = ('empty.yaml', 'other.py')\n")
    assert Config.fromfile(child).to_dict() == {"a": 1}


def test_fromstring_resolves_relative_bases_from_the_working_directory(tmp_path, monkeypatch):
    write(tmp_path, "base.json", '{"a": {"b": 1, "c": 2}}')
    monkeypatch.chdir(tmp_path)
    cfg = Config.fromstring("_base_ = 'base.json'\na = dict(c=3)\n", "py")
    assert cfg.to_dict() == {"a": {"b": 1, "c": 3}} and cfg.filename is None
    assert Config.fromstring("a: [1, 2]", ".yml").a == [1, 2]
    assert Config.fromstring('{"a": null}', "json").a is None


def test_nested_values_are_config_dicts_also_inside_lists():
    cfg = Config.fromfile(RETINANET / "retinanet_r50_fpn_1x_coco.py")
    assert isinstance(cfg.model, ConfigDict) and isinstance(cfg.train_pipeline[0], ConfigDict)
    assert cfg.train_dataloader.dataset.pipeline[1].with_bbox is True
