"""YOLODetector and YOLOv5DetDataPreprocessor: the model API (loss / predict / tensor) on
the shipped configs, parameter counts of every YOLOv8 size against the totals Ultralytics
documents in its YAML, the preprocessor against hand-computed batches, and errors."""

import pytest
import torch

from detcore.config import Config
from detcore.registry import MODELS
from detcore.structures import DetDataSample, InstanceData
from detyolo.detectors import YOLOv5DetDataPreprocessor


def _build(config: str, **overrides):
    cfg = Config.fromfile(f"detyolo::{config}")
    cfg.merge_from_dict(overrides)
    return MODELS.build(cfg.model.to_dict())


@pytest.mark.parametrize("size, parameters", [
    # ultralytics/cfg/models/v8/yolov8.yaml, "YOLOv8{size} summary: ... parameters"
    ("n", 3_157_200), ("s", 11_166_560), ("m", 25_902_640), ("l", 43_691_520),
    ("x", 68_229_648),
])
def test_yolov8_configs_have_ultralytics_documented_parameter_counts(size, parameters):
    model = _build(f"yolov8/yolov8_{size}_coco.py")
    assert sum(p.numel() for p in model.parameters()) == parameters


def test_yolov5s_with_six_classes_has_mmyolo_documented_parameter_count():
    # MMYOLO 0.6.0 docs (seed 002, ionogram example): YOLOv5-s with 6 classes, 7.036M params
    model = _build("yolov5/yolov5_s_coco.py", **{"model.bbox_head.head_module.num_classes": 6})
    assert round(sum(p.numel() for p in model.parameters()) / 1e6, 3) == 7.036


@pytest.mark.parametrize("config, millions", [
    # YOLOv5 v6.x model table (params, M, rounded or cut to 0.1): n 1.9, s 7.2, m 21.2, l 46.5, x 86.7; P6 n6 3.2,
    # s6 12.6, m6 35.7, l6 76.8, x6 140.7
    ("yolov5_n_coco", 1.9), ("yolov5_s_coco", 7.2), ("yolov5_m_coco", 21.2),
    ("yolov5_l_coco", 46.5), ("yolov5_x_coco", 86.7), ("yolov5_n_p6_coco", 3.2),
    ("yolov5_s_p6_coco", 12.6), ("yolov5_m_p6_coco", 35.7), ("yolov5_l_p6_coco", 76.8),
    ("yolov5_x_p6_coco", 140.7),
])
def test_yolov5_configs_have_the_documented_parameter_counts(config, millions):
    model = _build(f"yolov5/{config}.py")
    assert sum(p.numel() for p in model.parameters()) / 1e6 == pytest.approx(millions, abs=0.1)


def _samples(num_images, shape=(96, 128)):
    samples = []
    for i in range(num_images):
        sample = DetDataSample(metainfo=dict(ori_shape=shape, img_shape=shape,
                                             scale_factor=(1.0, 1.0)))
        sample.gt_instances = InstanceData(bboxes=torch.tensor([[10., 12, 50, 60 + i]]),
                                           labels=torch.tensor([i % 3]))
        samples.append(sample)
    return samples


def test_model_api_modes():
    model = _build("yolov8/yolov8_n_coco.py",
                   **{"model.bbox_head.head_module.num_classes": 3,
                      "model.train_cfg.assigner.num_classes": 3})
    model.init_weights()
    batch = model.data_preprocessor(
        dict(inputs=[torch.randint(0, 256, (3, 96, 128), dtype=torch.uint8) for _ in range(2)],
             data_samples=_samples(2)), training=True)

    cls_scores, dists = model(batch["inputs"], mode="tensor")
    assert [tuple(c.shape) for c in cls_scores] == [(2, 3, 12, 16), (2, 3, 6, 8), (2, 3, 3, 4)]
    assert [tuple(d.shape) for d in dists] == [(2, 64, 12, 16), (2, 64, 6, 8), (2, 64, 3, 4)]

    model.train()
    losses = model(**batch, mode="loss")
    assert set(losses) == {"loss_cls", "loss_bbox", "loss_dfl"}
    sum(losses.values()).backward()
    assert model.backbone.stem.conv.weight.grad is not None

    model.eval()
    with torch.no_grad():
        predictions = model(**batch, mode="predict")
    assert len(predictions) == 2
    for prediction in predictions:
        instances = prediction.pred_instances
        assert instances.bboxes.shape[1] == 4 and len(instances) <= 300
        assert (instances.scores > 0.001).all()
        assert (instances.bboxes[:, 2] <= 128).all() and (instances.bboxes[:, 3] <= 96).all()


def test_model_api_errors():
    model = _build("yolov8/yolov8_n_coco.py")
    x = torch.zeros(1, 3, 64, 64)
    with pytest.raises(ValueError, match="mode must be one of \\('loss', 'predict', 'tensor'\\), "
                                         "got 'train'"):
        model(x, mode="train")
    with pytest.raises(ValueError, match="mode 'loss' needs data_samples with gt_instances"):
        model(x, mode="loss")


def test_preprocessor_stacks_flips_channels_and_scales():
    images = [torch.randint(0, 256, (3, 4, 6), dtype=torch.uint8) for _ in range(2)]
    out = YOLOv5DetDataPreprocessor()(dict(inputs=images, data_samples=None))
    expected = torch.stack(images).flip(1).float() / 255
    torch.testing.assert_close(out["inputs"], expected)


def test_preprocessor_pads_different_sizes_to_the_divisor():
    images = [torch.full((3, 5, 7), 10, dtype=torch.uint8), torch.full((3, 9, 4), 20, dtype=torch.uint8)]
    samples = [DetDataSample(), DetDataSample()]
    preprocessor = YOLOv5DetDataPreprocessor(mean=(0, 0, 0), std=(1, 1, 1), bgr_to_rgb=False,
                                             pad_size_divisor=8, pad_value=114)
    out = preprocessor(dict(inputs=images, data_samples=samples))
    batch = out["inputs"]
    assert batch.shape == (2, 3, 16, 8)
    assert (batch[0, :, :5, :7] == 10).all() and (batch[0, :, 5:] == 114).all()
    assert (batch[0, :, :, 7:] == 114).all()
    assert (batch[1, :, :9, :4] == 20).all() and (batch[1, :, :, 4:] == 114).all()
    assert [s.metainfo["batch_input_shape"] for s in samples] == [(16, 8), (16, 8)]


def test_preprocessor_errors():
    with pytest.raises(ValueError, match="std must not contain 0"):
        YOLOv5DetDataPreprocessor(std=(255, 0, 255))
    with pytest.raises(ValueError, match="inputs have 1 channels but mean/std give 3"):
        YOLOv5DetDataPreprocessor()(dict(inputs=torch.zeros(1, 1, 4, 4)))
    with pytest.raises(ValueError, match="inputs\\[1\\] must be a \\(C, H, W\\) tensor"):
        YOLOv5DetDataPreprocessor()(dict(inputs=[torch.zeros(3, 4, 4), torch.zeros(4, 4)]))


@pytest.mark.slow
def test_shapes_config_builds_the_seven_class_model():
    """Reading the config generates the shapes dataset at the default root if needed."""
    cfg = Config.fromfile("detyolo::yolov8/yolov8_n_shapes.py")
    model = MODELS.build(cfg.model.to_dict())
    assert model.bbox_head.num_classes == 7
    assert cfg.train_dataloader.dataset.metainfo["classes"][0] == "triangle"


def test_fuse_conv_bn_keeps_the_outputs():
    """Folding BN into the convs (eval mode) changes no output beyond float rounding."""
    from detmodels.bricks import ConvModule
    from detyolo.detectors import fuse_conv_bn

    torch.manual_seed(0)
    model = _build("yolov8/yolov8_n_coco.py").eval()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
    x = torch.rand(1, 3, 96, 64)
    with torch.no_grad():
        expected = model(x, mode="tensor")
        fused = fuse_conv_bn(model)
        actual = fused(x, mode="tensor")
    assert not any(isinstance(m, (ConvModule, torch.nn.BatchNorm2d)) for m in fused.modules())
    for ours, reference in zip(sum(actual, []), sum(expected, [])):
        torch.testing.assert_close(ours, reference, atol=1e-4, rtol=1e-4)


def test_channels_last_model_gives_the_same_outputs():
    reference = _build("yolov8/yolov8_n_coco.py").eval()
    model = _build("yolov8/yolov8_n_coco.py", **{"model.channels_last": True}).eval()
    model.load_state_dict(reference.state_dict())
    assert model.backbone.stem.conv.weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.rand(2, 3, 64, 96)
    with torch.no_grad():
        for ours, theirs in zip(sum(model(x, mode="tensor"), []),
                                sum(reference(x, mode="tensor"), [])):
            torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-4)
