"""Parity with Ultralytics (the reference implementation of YOLOv8 and YOLOv5u): parameter
counts and FLOPs of the models our configs build against the models Ultralytics builds from
its YAML files, `tensor`-mode outputs on converted weights, and final detections against
Ultralytics' predict() on a real image."""

import pytest
import torch
from torch import nn

from detcore.config import Config
from detcore.registry import MODELS
from detyolo.converters.ultralytics import convert

pytestmark = pytest.mark.peer
ultralytics_tasks = pytest.importorskip("ultralytics.nn.tasks")

#: our config -> the Ultralytics YAML of the same model
MODELS_UNDER_TEST = {
    "yolov8/yolov8_n_coco.py": "yolov8n.yaml",
    "yolov8/yolov8_s_coco.py": "yolov8s.yaml",
    "yolov5/yolov5u_n_coco.py": "yolov5nu.yaml",
    "yolov5/yolov5u_s_coco.py": "yolov5su.yaml",
}


def _ours(config: str, num_classes: int = 80) -> nn.Module:
    cfg = Config.fromfile(f"detyolo::{config}")
    cfg.merge_from_dict({"model.bbox_head.head_module.num_classes": num_classes,
                         "model.train_cfg.assigner.num_classes": num_classes})
    return MODELS.build(cfg.model.to_dict())


def _theirs(yaml: str, num_classes: int = 80, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return ultralytics_tasks.DetectionModel(yaml, nc=num_classes, verbose=False)


def _count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class _DecodedOutputs(nn.Module):
    """Our network up to the decoded boxes and class logits: the work Ultralytics' model
    does in eval mode (its forward ends with the DFL integral and the box decoding)."""

    def __init__(self, detector: nn.Module):
        super().__init__()
        self.detector = detector

    def forward(self, x):
        return self.detector.bbox_head.decode(*self.detector(x, mode="tensor"))


def test_yolov8n_parameter_count_is_ultralytics_documented_value():
    # ultralytics/cfg/models/v8/yolov8.yaml: "YOLOv8n summary: ... 3157200 parameters"
    assert _count(_ours("yolov8/yolov8_n_coco.py")) == 3_157_200


@pytest.mark.parametrize("config, yaml", MODELS_UNDER_TEST.items())
@pytest.mark.parametrize("num_classes", [80, 7])
def test_parameter_count_equals_ultralytics(config, yaml, num_classes):
    assert _count(_ours(config, num_classes)) == _count(_theirs(yaml, num_classes))


@pytest.mark.parametrize("config, yaml", MODELS_UNDER_TEST.items())
def test_flops_equal_ultralytics(config, yaml):
    """FLOPs at 640 x 640 with Ultralytics' own counter (thop, as in its model summary)."""
    from ultralytics.utils.torch_utils import get_flops

    thop = pytest.importorskip("thop")
    theirs = _theirs(yaml).eval()
    ours = _DecodedOutputs(_ours(config)).eval()
    x = torch.zeros(1, 3, 640, 640)
    their_flops = thop.profile(theirs, inputs=(x,), verbose=False)[0]
    our_flops = thop.profile(ours, inputs=(x,), verbose=False)[0]
    assert our_flops == their_flops
    assert get_flops(theirs, 640) == pytest.approx(2 * their_flops / 1e9)


def _randomise_bn(model: nn.Module, seed: int = 1) -> None:
    generator = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.data.uniform_(0.5, 1.5, generator=generator)
            m.bias.data.uniform_(-0.5, 0.5, generator=generator)
            m.running_mean.uniform_(-0.5, 0.5, generator=generator)
            m.running_var.uniform_(0.5, 1.5, generator=generator)


@pytest.mark.parametrize("config, yaml", [("yolov8/yolov8_n_coco.py", "yolov8n.yaml"),
                                          ("yolov5/yolov5u_n_coco.py", "yolov5nu.yaml")])
def test_tensor_outputs_equal_ultralytics_head_outputs(config, yaml):
    """Per level: class logits (B, C, H, W) and box-distribution logits (B, 64, H, W) equal
    the ones Ultralytics' Detect head computes, to 1e-4."""
    num_classes = 5
    theirs = _theirs(yaml, num_classes)
    _randomise_bn(theirs)
    theirs.eval()
    ours = _ours(config, num_classes).eval()
    ours.load_state_dict(convert(theirs.state_dict()), strict=True)
    x = torch.rand(2, 3, 192, 256)
    with torch.no_grad():
        cls_scores, dists = ours(x, mode="tensor")
        _, raw = theirs(x)
    start = 0
    for cls_score, dist in zip(cls_scores, dists):
        height, width = cls_score.shape[2:]
        end = start + height * width
        their_cls = raw["scores"][..., start:end].reshape(2, num_classes, height, width)
        their_dist = raw["boxes"][..., start:end].reshape(2, 64, height, width)
        torch.testing.assert_close(cls_score, their_cls, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(dist, their_dist, atol=1e-4, rtol=1e-4)
        start = end
    assert start == raw["scores"].shape[-1]


def _calibrated_ultralytics_yolo(image_rgb: torch.Tensor):
    """An Ultralytics YOLOv8n whose BatchNorm statistics come from the test image, so that
    features do not vanish through the randomly initialised layers and the scores vary
    (with raw initial weights every cell scores the same)."""
    from ultralytics import YOLO

    torch.manual_seed(0)
    yolo = YOLO("yolov8n.yaml")
    model = yolo.model
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # cumulative average
    model.train()
    with torch.no_grad():
        model(image_rgb)
    model.eval()
    for branch in model.model[22].cv3:
        branch[-1].bias.data.fill_(-2.0)
    return yolo


@pytest.mark.slow
def test_detections_equal_ultralytics_predict_on_a_real_image():
    """Ultralytics' predict() on its bus.jpg (letterbox to 640, conf 0.5, IoU 0.7, max_det
    300, best class per box) against our predict mode on the same network input, mapped back
    to the original image with Ultralytics' gain and padding."""
    import cv2
    from ultralytics.utils import ASSETS

    image_path = str(ASSETS / "bus.jpg")
    image = cv2.imread(image_path)
    height, width = image.shape[:2]
    rgb = torch.from_numpy(cv2.resize(image, (480, 640))[..., ::-1].copy())
    yolo = _calibrated_ultralytics_yolo(rgb.permute(2, 0, 1)[None].float() / 255)
    state_dict = convert(yolo.model.state_dict())  # before predict() fuses conv and BN

    captured = {}
    yolo.model.register_forward_pre_hook(lambda m, args: captured.setdefault("x", args[0].clone()))
    (result,) = yolo.predict(source=image_path, conf=0.5, iou=0.7, max_det=300, imgsz=640,
                             verbose=False, save=False)
    network_input = captured["x"]

    ours = _ours("yolov8/yolov8_n_coco.py").eval()
    ours.load_state_dict(state_dict, strict=True)
    ours.bbox_head.test_cfg = dict(multi_label=False, nms_pre=30000, score_thr=0.5,
                                   nms=dict(type="nms", iou_threshold=0.7), max_per_img=300)
    input_h, input_w = network_input.shape[2:]
    gain = min(input_h / height, input_w / width)
    pad_w = round((input_w - width * gain) / 2 - 0.1)
    pad_h = round((input_h - height * gain) / 2 - 0.1)
    from detcore.structures import DetDataSample

    sample = DetDataSample(metainfo=dict(ori_shape=(height, width), scale_factor=(gain, gain),
                                         pad_param=(pad_h, pad_h, pad_w, pad_w)))
    with torch.no_grad():
        (prediction,) = ours(network_input, [sample], mode="predict")
    ours_instances = prediction.pred_instances

    assert 20 < len(result.boxes) < 300
    assert len(ours_instances) == len(result.boxes)
    # pair each of their detections with our nearest (scores within 1e-6 may swap places:
    # Ultralytics runs the conv-BN fused network)
    distance = torch.cdist(result.boxes.xyxy, ours_instances.bboxes, p=1)
    order = distance.argmin(1)
    assert sorted(order.tolist()) == list(range(len(order)))
    assert ours_instances.labels[order].tolist() == result.boxes.cls.long().tolist()
    torch.testing.assert_close(ours_instances.scores[order], result.boxes.conf, atol=1e-4,
                               rtol=1e-4)
    torch.testing.assert_close(ours_instances.bboxes[order], result.boxes.xyxy, atol=1e-2,
                               rtol=1e-3)
