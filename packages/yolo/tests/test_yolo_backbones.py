"""YOLO backbones and CSP blocks: block outputs against Ultralytics' C2f / C3 / SPPF on the
same weights, output shapes and parameter counts against Ultralytics' YAML models, scaling
rules by hand, freezing, and argument errors."""

import pytest
import torch
from torch import nn

from detyolo.backbones import (
    CSPLayer,
    CSPLayerWithTwoConv,
    SPPFBottleneck,
    YOLOv5CSPDarknet,
    YOLOv8CSPDarknet,
    make_divisible,
    make_round,
)
from detyolo.converters.ultralytics import BOTTLENECK_NAMES, CHILD_NAMES

ultralytics_block = pytest.importorskip("ultralytics.nn.modules.block")


def _randomise(module: nn.Module) -> nn.Module:
    """Random weights and BN statistics, eval mode: a comparison that exercises every tensor.
    BN eps 1e-3 as Ultralytics' DetectionModel sets it (its blocks alone default to 1e-5)."""
    torch.manual_seed(0)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eps = 1e-3
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
    return module.eval()


def _renamed(state_dict: dict, kind: str) -> dict:
    """Ultralytics block keys -> ours, with the converter's per-kind table."""
    renamed = {}
    for key, value in state_dict.items():
        parts = key.split(".")
        if parts[0] == "m":
            parts[2] = BOTTLENECK_NAMES.get(parts[2], parts[2])
        parts[0] = CHILD_NAMES[kind].get(parts[0], parts[0])
        renamed[".".join(parts)] = value
    return renamed


@pytest.mark.peer
@pytest.mark.parametrize("kind, theirs, ours", [
    ("c2f", lambda: ultralytics_block.C2f(32, 48, n=2, shortcut=True),
     lambda: CSPLayerWithTwoConv(32, 48, num_blocks=2, add_identity=True)),
    ("c2f", lambda: ultralytics_block.C2f(48, 32, n=1, shortcut=False),
     lambda: CSPLayerWithTwoConv(48, 32, num_blocks=1, add_identity=False)),
    ("c3", lambda: ultralytics_block.C3(32, 32, n=3),
     lambda: CSPLayer(32, 32, num_blocks=3, add_identity=True)),
    ("c3", lambda: ultralytics_block.C3(64, 32, n=1, shortcut=False),
     lambda: CSPLayer(64, 32, num_blocks=1, add_identity=False)),
    ("sppf", lambda: ultralytics_block.SPPF(64, 48, 5),
     lambda: SPPFBottleneck(64, 48, kernel_sizes=5)),
])
def test_block_matches_ultralytics(kind, theirs, ours):
    theirs, ours = _randomise(theirs()), ours().eval()
    if kind == "sppf":  # Ultralytics' YAML rows of YOLOv5/v8 activate SPPF's first conv
        theirs.cv1.act = nn.SiLU()
    ours.load_state_dict(_renamed(theirs.state_dict(), kind), strict=True)
    x = torch.randn(2, theirs.cv1.conv.in_channels, 20, 24)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=1e-5)


def test_spp_with_parallel_kernels_pools_each_size_once():
    spp = SPPFBottleneck(8, 8, kernel_sizes=(5, 9, 13), use_conv_first=False)
    assert spp.conv2.conv.in_channels == 8 * 4
    x = torch.randn(1, 8, 16, 16)
    pooled = [nn.functional.max_pool2d(x, k, 1, k // 2) for k in (5, 9, 13)]
    with torch.no_grad():
        expected = spp.conv2(torch.cat([x, *pooled], 1))
        torch.testing.assert_close(spp(x), expected)


def test_make_divisible_and_make_round_by_hand():
    assert make_divisible(1024, 0.25) == 256
    assert make_divisible(100, 0.3) == 32      # 30 rounded up to a multiple of 8
    assert make_divisible(768, 0.75) == 576
    assert make_round(9, 0.33) == 3            # round(2.97)
    assert make_round(3, 0.33) == 1            # never below one block
    assert make_round(1, 0.33) == 1            # a single block is not scaled
    assert make_round(6, 0.67) == 4


@pytest.mark.parametrize("backbone, channels, strides", [
    (YOLOv8CSPDarknet(deepen_factor=0.33, widen_factor=0.25), (64, 128, 256), (8, 16, 32)),
    (YOLOv8CSPDarknet(last_stage_out_channels=768, deepen_factor=0.33, widen_factor=0.75),
     (192, 384, 576), (8, 16, 32)),
    (YOLOv5CSPDarknet(deepen_factor=0.33, widen_factor=0.5), (128, 256, 512), (8, 16, 32)),
    (YOLOv5CSPDarknet(arch="P6", deepen_factor=0.33, widen_factor=0.25, out_indices=(2, 3, 4, 5)),
     (64, 128, 192, 256), (8, 16, 32, 64)),
])
def test_backbone_output_shapes(backbone, channels, strides):
    x = torch.randn(1, 3, 128, 192)
    with torch.no_grad():
        outs = backbone.eval()(x)
    assert [o.shape for o in outs] == [(1, c, 128 // s, 192 // s) for c, s in zip(channels, strides)]


@pytest.mark.peer
@pytest.mark.parametrize("yaml, backbone, last_layer", [
    ("yolov8n.yaml", lambda: YOLOv8CSPDarknet(deepen_factor=0.33, widen_factor=0.25), 9),
    ("yolov8m.yaml", lambda: YOLOv8CSPDarknet(last_stage_out_channels=768, deepen_factor=0.67,
                                              widen_factor=0.75), 9),
    ("yolov5su.yaml", lambda: YOLOv5CSPDarknet(deepen_factor=0.33, widen_factor=0.5), 9),
])
def test_backbone_parameter_count_matches_ultralytics_layers(yaml, backbone, last_layer):
    from ultralytics.nn.tasks import DetectionModel

    theirs = DetectionModel(yaml, nc=80, verbose=False)
    expected = sum(p.numel() for p in theirs.model[:last_layer + 1].parameters())
    assert sum(p.numel() for p in backbone().parameters()) == expected


def test_frozen_stages_and_norm_eval():
    backbone = YOLOv8CSPDarknet(deepen_factor=0.33, widen_factor=0.25, frozen_stages=1,
                                norm_eval=True).train()
    assert not any(p.requires_grad for p in backbone.stem.parameters())
    assert not any(p.requires_grad for p in backbone.stage1.parameters())
    assert all(p.requires_grad for p in backbone.stage2.parameters())
    assert not any(m.training for m in backbone.modules() if isinstance(m, nn.BatchNorm2d))


def test_init_weights_resets_convs_to_pytorch_default():
    """PyTorch's default conv init bounds weights by 1/sqrt(fan_in) (kaiming_uniform a=sqrt(5)),
    tighter than the Kaiming-normal init ConvModule starts with."""
    torch.manual_seed(0)
    backbone = YOLOv8CSPDarknet(deepen_factor=0.33, widen_factor=0.25)
    backbone.init_weights()
    conv = backbone.stage2[0].conv
    bound = 1 / (conv.in_channels * 9) ** 0.5
    assert conv.weight.abs().max() <= bound


def test_argument_errors_name_the_argument():
    with pytest.raises(ValueError, match="arch must be one of \\['P5'\\], got 'P6'"):
        YOLOv8CSPDarknet(arch="P6")
    with pytest.raises(ValueError, match="out_indices \\(2, 5\\) must be in 0..4"):
        YOLOv5CSPDarknet(out_indices=(2, 5))
    with pytest.raises(ValueError, match="frozen_stages must be in -1..4, got 7"):
        YOLOv5CSPDarknet(frozen_stages=7)
