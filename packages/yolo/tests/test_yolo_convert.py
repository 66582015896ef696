"""`detcore convert --from ultralytics`: Ultralytics .pt checkpoints (pickled models, loaded
only with --trust-checkpoint) and plain state_dicts mapped onto our YOLOv8 / YOLOv5u
models, and the errors a user sees for the wrong file or config."""

import pytest
import torch
from torch import nn

from detcore.cli import main as detcore_main
from detcore.config import Config
from detcore.errors import UserError
from detcore.registry import CONVERTERS, MODELS
from detyolo.converters.ultralytics import convert

pytestmark = pytest.mark.peer
ultralytics_tasks = pytest.importorskip("ultralytics.nn.tasks")

V8N = "detyolo::yolov8/yolov8_n_coco.py"

if "ultralytics" not in CONVERTERS:  # until detyolo's plugin registers it (h12_registrations.txt)
    CONVERTERS.register_module(name="ultralytics", module=convert)


def _theirs(yaml="yolov8n.yaml", seed=0):
    torch.manual_seed(seed)
    return ultralytics_tasks.DetectionModel(yaml, nc=80, verbose=False).eval()


def _ours(config=V8N):
    return MODELS.build(Config.fromfile(config).model.to_dict()).eval()


def _same_tensor_outputs(ours: nn.Module, theirs: nn.Module) -> None:
    x = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        cls_scores, _ = ours(x, mode="tensor")
        _, raw = theirs(x)
    first_level = cls_scores[0].flatten(2)
    torch.testing.assert_close(first_level, raw["scores"][..., :first_level.shape[-1]],
                               atol=1e-4, rtol=1e-4)


def test_cli_converts_an_ultralytics_pt_checkpoint(tmp_path, capsys):
    """A .pt as Ultralytics saves it: {'model': DetectionModel (half precision), 'ema': None}."""
    theirs = _theirs()
    src, dst = tmp_path / "yolov8n.pt", tmp_path / "ours.pth"
    torch.save({"model": _theirs().half(), "ema": None, "epoch": -1}, src)
    assert detcore_main(["convert", "--from", "ultralytics", str(src), str(dst),
                         "--config", V8N, "--trust-checkpoint"]) == 0
    assert "converted" in capsys.readouterr().out
    state_dict = torch.load(dst, weights_only=True)["state_dict"]
    assert all(v.dtype != torch.float16 for v in state_dict.values())
    ours = _ours()
    ours.load_state_dict(state_dict, strict=True)
    theirs.half().float()  # the same rounding the checkpoint went through
    _same_tensor_outputs(ours, theirs)


def test_cli_converts_a_plain_state_dict_without_trust(tmp_path):
    theirs = _theirs("yolov5nu.yaml")
    src, dst = tmp_path / "yolov5nu_state_dict.pth", tmp_path / "ours.pth"
    torch.save(theirs.state_dict(), src)
    assert detcore_main(["convert", "--from", "ultralytics", str(src), str(dst)]) == 0
    ours = _ours("detyolo::yolov5/yolov5u_n_coco.py")
    ours.load_state_dict(torch.load(dst, weights_only=True)["state_dict"], strict=True)
    _same_tensor_outputs(ours, theirs)


def test_ema_weights_are_preferred_over_the_raw_model():
    raw, ema = _theirs(seed=0), _theirs(seed=1)
    converted = convert({"model": raw, "ema": ema})
    key = "bbox_head.head_module.cls_preds.0.2.weight"
    torch.testing.assert_close(converted[key], ema.state_dict()["model.22.cv3.0.2.weight"])


def test_known_keys_map_by_layer_table():
    converted = convert(_theirs().state_dict())
    assert "backbone.stage1.1.blocks.0.conv1.conv.weight" in converted   # model.2.m.0.cv1
    assert "backbone.stage4.2.conv1.bn.running_var" in converted          # model.9.cv1 (SPPF)
    assert "neck.top_down_layers.0.final_conv.conv.weight" in converted   # model.12.cv2
    assert "bbox_head.head_module.integral.conv.weight" in converted      # model.22.dfl


def test_config_of_another_architecture_is_refused():
    cfg = Config.fromfile("detyolo::yolov5/yolov5u_n_coco.py")
    with pytest.raises(UserError, match="the checkpoint is a yolov8 model but the config builds "
                                        "a yolov5u model"):
        convert(_theirs().state_dict(), cfg)


def test_unexpected_keys_and_non_checkpoints_are_refused():
    state_dict = _theirs().state_dict()
    state_dict["model.11.weight"] = torch.zeros(1)  # layer 11 is a Concat: it has no weights
    with pytest.raises(UserError, match="unexpected key 'model.11.weight'"):
        convert(state_dict)
    with pytest.raises(UserError, match="neither an Ultralytics checkpoint nor its state_dict"):
        convert({"state_dict": {"conv.weight": torch.zeros(1)}})
    with pytest.raises(UserError, match="neither a YOLOv8 .* nor a YOLOv5u"):
        convert({"model.0.conv.weight": torch.zeros(1)})
