"""YOLO PAFPN necks: output shapes, parameter counts against the neck layers of
Ultralytics' YAML models, the concatenation order, freezing, and input errors."""

import pytest
import torch
from torch import nn

from detyolo.necks import YOLOv5PAFPN, YOLOv8PAFPN


def _inputs(channels, size=64, strides=(8, 16, 32)):
    return [torch.randn(1, c, size // s, size // s) for c, s in zip(channels, strides)]


@pytest.mark.parametrize("neck, in_channels, out_channels", [
    (lambda: YOLOv8PAFPN([256, 512, 1024], [256, 512, 1024], 0.33, 0.25),
     (64, 128, 256), (64, 128, 256)),
    (lambda: YOLOv8PAFPN([256, 512, 768], [256, 512, 768], 0.67, 0.75),
     (192, 384, 576), (192, 384, 576)),
    (lambda: YOLOv5PAFPN([256, 512, 1024], [256, 512, 1024], 0.33, 0.5, num_csp_blocks=3),
     (128, 256, 512), (128, 256, 512)),
])
def test_neck_output_shapes(neck, in_channels, out_channels):
    with torch.no_grad():
        outs = neck().eval()(_inputs(in_channels))
    assert [tuple(o.shape) for o in outs] == [(1, c, 64 // s, 64 // s)
                                              for c, s in zip(out_channels, (8, 16, 32))]


def test_yolov5_p6_neck_has_four_levels():
    neck = YOLOv5PAFPN([256, 512, 768, 1024], [256, 512, 768, 1024], 0.33, 0.25,
                       num_csp_blocks=3).eval()
    with torch.no_grad():
        outs = neck(_inputs((64, 128, 192, 256), 128, (8, 16, 32, 64)))
    assert [o.shape[1] for o in outs] == [64, 128, 192, 256]
    assert [o.shape[2] for o in outs] == [16, 8, 4, 2]


@pytest.mark.peer
@pytest.mark.parametrize("yaml, neck, layers", [
    ("yolov8n.yaml", lambda: YOLOv8PAFPN([256, 512, 1024], [256, 512, 1024], 0.33, 0.25),
     slice(10, 22)),
    ("yolov8l.yaml", lambda: YOLOv8PAFPN([256, 512, 512], [256, 512, 512], 1.0, 1.0),
     slice(10, 22)),
    ("yolov5nu.yaml", lambda: YOLOv5PAFPN([256, 512, 1024], [256, 512, 1024], 0.33, 0.25,
                                          num_csp_blocks=3), slice(10, 24)),
])
def test_neck_parameter_count_matches_ultralytics_layers(yaml, neck, layers):
    from ultralytics.nn.tasks import DetectionModel

    theirs = DetectionModel(yaml, nc=80, verbose=False)
    expected = sum(p.numel() for p in theirs.model[layers].parameters())
    assert sum(p.numel() for p in neck().parameters()) == expected


def test_upsampled_feature_is_concatenated_first():
    """The first top-down fusion sees cat(upsampled coarse, fine): with the fine input
    zeroed, its first input channels carry the upsampled map and the last ones are zero."""
    neck = YOLOv8PAFPN([256, 512, 1024], [256, 512, 1024], 0.33, 0.25).eval()
    seen = {}
    neck.top_down_layers[0].register_forward_hook(lambda m, args, out: seen.update(x=args[0]))
    feats = _inputs((64, 128, 256))
    feats[1] = torch.zeros_like(feats[1])
    with torch.no_grad():
        neck(feats)
    expected_upsampled = nn.functional.interpolate(feats[2], scale_factor=2, mode="nearest")
    torch.testing.assert_close(seen["x"][:, :256], expected_upsampled)
    assert seen["x"][:, 256:].abs().sum() == 0


def test_freeze_all_stops_gradients_and_bn_updates():
    neck = YOLOv8PAFPN([256, 512, 1024], [256, 512, 1024], 0.33, 0.25, freeze_all=True).train()
    assert not any(p.requires_grad for p in neck.parameters())
    assert not any(m.training for m in neck.modules() if isinstance(m, nn.BatchNorm2d))


def test_wrong_number_of_levels_is_refused():
    neck = YOLOv8PAFPN([256, 512, 1024], [256, 512, 1024], 0.33, 0.25)
    with pytest.raises(ValueError, match=r"YOLOv8PAFPN expects 3 feature maps \(in_channels="
                                         r"\[256, 512, 1024\]\), got 2"):
        neck(_inputs((64, 128)))
