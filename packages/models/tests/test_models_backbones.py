"""Backbones against MMDetection 3.3.0 (identical state_dict keys and shapes; same outputs to
1e-4 with MMDetection's random weights copied in), against torchvision's ResNets (their
ImageNet state_dict loads as is and gives the same features), and against the output shapes
documented in MMDetection's API reference (the seeds)."""

import importlib.util

import pytest
import torch
import torchvision
from torch import nn

from detcore.checkpoint import CheckpointError
from detcore.registry import MODELS
from detmodels.backbones import (
    MobileNetV2,
    RegNet,
    ResNet,
    ResNetV1d,
    ResNeXt,
    SwinTransformer,
    TIMMBackbone,
    TorchvisionBackbone,
    make_divisible,
    swin_converter,
)
from detops import ModulatedDeformConv2dPack

# Until detmodels' plugin registers them (see /work/briefs/h10_registrations.txt), the test
# registers the layer names the backbones build; a no-op once the plugin does.
_LAYERS = {
    "Conv2d": "torch.nn:Conv2d", "BN": "torch.nn:BatchNorm2d", "GN": "torch.nn:GroupNorm",
    "LN": "torch.nn:LayerNorm", "ReLU": "torch.nn:ReLU", "ReLU6": "torch.nn:ReLU6",
    "GELU": "torch.nn:GELU", "DropPath": "detmodels.bricks.drop:DropPath",
    "DCN": "detmodels.bricks.deform_conv:DeformConv2dPack",
    "DCNv2": "detmodels.bricks.deform_conv:ModulatedDeformConv2dPack",
}


@pytest.fixture(autouse=True, scope="module")
def _layers_registered():
    for name, target in _LAYERS.items():
        if name not in MODELS:
            MODELS.register_lazy({name: target})


def _randomise(module: nn.Module) -> None:
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0, 0.1)
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)


def _assert_same_as_mmdet(mmdet, cfg, ours_cls, x, train=False):
    """Build cfg in mmdet and with ours_cls, copy mmdet's random weights, compare outputs."""
    from mmdet.registry import MODELS as MMDET_MODELS

    args = {k: v for k, v in cfg.items() if k != "type"}
    theirs = MMDET_MODELS.build(cfg)
    ours = ours_cls(**args)
    _randomise(theirs)
    their_sd, our_sd = theirs.state_dict(), ours.state_dict()
    assert list(our_sd) == list(their_sd)
    assert [v.shape for v in our_sd.values()] == [v.shape for v in their_sd.values()]
    ours.load_state_dict(their_sd, strict=True)
    theirs.train(train)
    ours.train(train)
    def norm_modes(net):
        return [m.training for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]

    assert norm_modes(ours) == norm_modes(theirs)
    assert [p.requires_grad for p in ours.parameters()] == [p.requires_grad for p in theirs.parameters()]
    their_out, our_out = theirs(x), ours(x)
    assert len(our_out) == len(their_out)
    for a, b in zip(our_out, their_out):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    return ours, theirs


# ------------------------------------------------------------------ ResNet family
RESNET_CASES = {
    "r18": dict(type="ResNet", depth=18),
    "r50": dict(type="ResNet", depth=50),
    "r50-caffe-frozen1": dict(type="ResNet", depth=50, style="caffe", frozen_stages=1,
                              norm_cfg=dict(type="BN", requires_grad=False)),
    "r50-dilated-c5": dict(type="ResNet", depth=50, strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2),
                           out_indices=(1, 3)),
    "r18-3stages-gn": dict(type="ResNet", depth=18, num_stages=3, out_indices=(0, 2),
                           strides=(1, 2, 2), dilations=(1, 1, 1),
                           norm_cfg=dict(type="GN", num_groups=8), stem_channels=32),
    "r18-deepstem-frozen2": dict(type="ResNet", depth=18, deep_stem=True, avg_down=True, frozen_stages=2),
}


@pytest.mark.peer
@pytest.mark.parametrize("name", list(RESNET_CASES))
def test_resnet_matches_mmdet_in_train_mode(mmdet, name):
    # train mode: norm_eval keeps BNs in eval (outputs deterministic), frozen stages in eval
    ours, _ = _assert_same_as_mmdet(mmdet, RESNET_CASES[name], ResNet, torch.randn(2, 3, 64, 48),
                                    train=True)
    if "frozen" in name:
        assert not any(p.requires_grad for p in ours.layer1.parameters())
        assert ours.layer3[0].conv1.weight.requires_grad


@pytest.mark.slow
@pytest.mark.peer
def test_resnet101_and_norm_eval_false_match_mmdet(mmdet):
    _assert_same_as_mmdet(mmdet, dict(type="ResNet", depth=101, out_indices=(2, 3)), ResNet,
                          torch.randn(1, 3, 64, 64))
    # norm_eval=False in train mode: batch statistics, compared on the same batch
    _assert_same_as_mmdet(mmdet, dict(type="ResNet", depth=18, norm_eval=False), ResNet,
                          torch.randn(2, 3, 64, 64), train=True)


@pytest.mark.slow
@pytest.mark.peer
def test_resnet_v1d_and_resnext_match_mmdet(mmdet):
    _assert_same_as_mmdet(mmdet, dict(type="ResNetV1d", depth=50), ResNetV1d, torch.randn(1, 3, 64, 64))
    _assert_same_as_mmdet(mmdet, dict(type="ResNeXt", depth=50, groups=32, base_width=4), ResNeXt,
                          torch.randn(1, 3, 64, 64))


@pytest.mark.peer
def test_resnet_dcn_state_dict_matches_mmdet(mmdet):
    """mmcv's DCN cannot run with the stand-ins, so only names and shapes are compared here;
    the DCN op itself is checked against torchvision in test_models_bricks and below."""
    from mmdet.registry import MODELS as MMDET_MODELS

    cfg = dict(depth=50, dcn=dict(type="DCNv2", deform_groups=1, fallback_on_stride=False),
               stage_with_dcn=(False, True, True, True))
    theirs = MMDET_MODELS.build(dict(type="ResNet", **cfg))
    ours = ResNet(**cfg)
    assert {k: v.shape for k, v in ours.state_dict().items()} == \
        {k: v.shape for k, v in theirs.state_dict().items()}
    assert isinstance(ours.layer2[0].conv2, ModulatedDeformConv2dPack)
    assert not isinstance(ours.layer1[0].conv2, ModulatedDeformConv2dPack)


def test_resnet_dcn_with_fresh_offsets_is_resnet_with_half_conv2():
    """Zero-initialised offsets sample the regular grid and every DCNv2 mask is sigmoid(0) =
    0.5: the network equals a plain ResNet whose DCN-stage conv2 weights are halved."""
    torch.manual_seed(0)
    dcn = ResNet(depth=50, dcn=dict(type="DCNv2", deform_groups=1), stage_with_dcn=(False, False, True, True),
                 zero_init_residual=False)
    dcn.init_weights()  # Kaiming convs, zero offsets
    plain = ResNet(depth=50).eval()
    dcn.eval()
    state = dcn.state_dict()
    for key in list(state):
        if ".conv2.conv_offset." in key:
            del state[key]
        elif key.endswith("conv2.weight") and key.startswith(("layer3", "layer4")):
            state[key] = state[key] * 0.5
    plain.load_state_dict(state)
    x = torch.randn(1, 3, 64, 64)
    for a, b in zip(dcn(x), plain(x)):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="fallback_on_stride=True is not supported"):
        ResNet(depth=50, dcn=dict(type="DCNv2", fallback_on_stride=True), stage_with_dcn=(True,) * 4)
    with pytest.raises(ValueError, match="BasicBlock .* has no DCN variant"):
        ResNet(depth=18, dcn=dict(type="DCNv2"), stage_with_dcn=(True,) * 4)


@pytest.mark.slow
def test_resnet_loads_torchvision_imagenet_state_dict_and_matches_its_features():
    reference = torchvision.models.resnet50().eval()
    _randomise(reference)
    ours = ResNet(depth=50).eval()
    state = {k: v for k, v in reference.state_dict().items() if not k.startswith("fc.")}
    ours.load_state_dict(state, strict=True)
    x = torch.randn(1, 3, 64, 64)
    y = reference.maxpool(reference.relu(reference.bn1(reference.conv1(x))))
    for out, layer in zip(ours(x), [reference.layer1, reference.layer2, reference.layer3, reference.layer4]):
        y = layer(y)
        torch.testing.assert_close(out, y, atol=1e-4, rtol=1e-4)
    # parameter count: torchvision's resnet50 (25,557,032) without its fc (2048 * 1000 + 1000)
    assert sum(p.numel() for p in ours.parameters()) == 25_557_032 - 2_049_000


def test_resnet_pretrained_init_cfg_loads_a_torchvision_file(tmp_path):
    reference = torchvision.models.resnet18()
    _randomise(reference)
    path = tmp_path / "resnet18.pth"
    torch.save(reference.state_dict(), path)
    ours = ResNet(depth=18, init_cfg=dict(type="Pretrained", checkpoint=str(path)))
    with pytest.warns(UserWarning, match="unexpected keys in the checkpoint: fc.weight, fc.bias"):
        ours.init_weights()
    torch.testing.assert_close(ours.layer4[1].conv2.weight, reference.layer4[1].conv2.weight)
    remote = ResNet(depth=18, init_cfg=dict(type="Pretrained", checkpoint="torchvision://resnet18"))
    with pytest.raises(CheckpointError, match="no model hub is reachable"):
        remote.init_weights()


def test_resnet_default_init_zeroes_last_norm_of_each_block():
    torch.manual_seed(0)
    net = ResNet(depth=50)
    net.init_weights()
    assert torch.all(net.layer2[1].bn3.weight == 0) and torch.all(net.layer2[1].bn1.weight == 1)
    # Kaiming normal (fan_out, relu) on convs: std sqrt(2 / (64 * 49)) for the stem
    assert net.conv1.weight.std().item() == pytest.approx((2 / (64 * 49)) ** 0.5, rel=0.1)
    assert torch.all(ResNet(depth=18, zero_init_residual=False).layer1[0].bn2.weight == 1)


def test_resnet18_documented_output_shapes():
    outs = ResNet(depth=18).eval()(torch.rand(1, 3, 32, 32))
    assert [tuple(o.shape) for o in outs] == [(1, 64, 8, 8), (1, 128, 4, 4), (1, 256, 2, 2), (1, 512, 1, 1)]


def test_resnet_argument_errors():
    with pytest.raises(KeyError, match="ResNet: invalid depth 42; choose one of"):
        ResNet(depth=42)
    with pytest.raises(ValueError, match=r"out_indices \(0, 4\) must be below num_stages=4"):
        ResNet(depth=18, out_indices=(0, 4))
    with pytest.raises(ValueError, match="style must be 'pytorch' or 'caffe'"):
        ResNet(depth=50, style="tf")


def test_with_cp_gives_same_outputs_and_gradients():
    torch.manual_seed(0)
    plain = ResNet(depth=18, norm_eval=True).train()
    checkpointed = ResNet(depth=18, with_cp=True, norm_eval=True).train()
    checkpointed.load_state_dict(plain.state_dict())
    x = torch.randn(1, 3, 32, 32, requires_grad=True)
    sum(o.sum() for o in plain(x)).backward()
    grad = x.grad.clone()
    x.grad = None
    sum(o.sum() for o in checkpointed(x)).backward()
    torch.testing.assert_close(x.grad, grad)


# ------------------------------------------------------------------ RegNet, MobileNetV2, Swin
@pytest.mark.peer
def test_regnet_matches_mmdet(mmdet):
    ours, _ = _assert_same_as_mmdet(mmdet, dict(type="RegNet", arch="regnetx_3.2gf", frozen_stages=1),
                                    RegNet, torch.randn(1, 3, 64, 64), train=True)
    assert ours.stage_widths == [96, 192, 432, 1008]


def test_regnet_documented_output_shapes():
    net = RegNet(arch=dict(w0=88, wa=26.31, wm=2.25, group_w=48, depth=25, bot_mul=1.0)).eval()
    outs = net(torch.rand(1, 3, 32, 32))
    assert [tuple(o.shape) for o in outs] == [(1, 96, 8, 8), (1, 192, 4, 4), (1, 432, 2, 2), (1, 1008, 1, 1)]
    with pytest.raises(KeyError, match="RegNet: unknown arch 'regnetx_9gf'"):
        RegNet(arch="regnetx_9gf")


@pytest.mark.peer
@pytest.mark.parametrize("kwargs", [dict(), dict(widen_factor=0.5, out_indices=(0, 3, 7), frozen_stages=2),
                                    dict(widen_factor=1.5, act_cfg=dict(type="ReLU"))])
def test_mobilenet_v2_matches_mmdet(mmdet, kwargs):
    # eval mode: with frozen_stages, MMDetection leaves the frozen stem's BN training (its
    # statistics drift); ours freezes it like the frozen layers
    _assert_same_as_mmdet(mmdet, dict(type="MobileNetV2", **kwargs), MobileNetV2,
                          torch.randn(1, 3, 64, 64), train=False)


def test_make_divisible_by_hand():
    assert make_divisible(32 * 0.75, 8) == 24
    assert make_divisible(10, 8) == 16  # 8 would lose more than 10%
    assert make_divisible(3, 8) == 8


@pytest.mark.slow
@pytest.mark.peer
@pytest.mark.parametrize("kwargs,size", [
    (dict(), (64, 64)),
    (dict(out_indices=(1, 3), window_size=4, frozen_stages=1, use_abs_pos_embed=True,
          pretrain_img_size=(72, 56)), (72, 56)),
    (dict(embed_dims=32, depths=(2, 2), num_heads=(2, 4), strides=(4, 2), out_indices=(0, 1),
          qkv_bias=False, patch_norm=False), (50, 38)),
])
def test_swin_matches_mmdet(mmdet, kwargs, size):
    _assert_same_as_mmdet(mmdet, dict(type="SwinTransformer", drop_path_rate=0.0, **kwargs),
                          SwinTransformer, torch.randn(2, 3, *size))


@pytest.mark.peer
def test_swin_relative_position_index_equals_mmdet(mmdet):
    from mmdet.models.backbones.swin import WindowMSA as TheirWindowMSA

    from detmodels.backbones.swin import relative_position_index

    for window in ((7, 7), (4, 6)):
        theirs = TheirWindowMSA(8, 2, window).relative_position_index
        assert torch.equal(relative_position_index(window), theirs)


def test_swin_converter_loads_original_swin_keys(tmp_path):
    """A checkpoint in the original Swin repository's layout (attn, mlp.fc1, patch_embed.proj,
    2x2 patch-merging order (0,0),(1,0),(0,1),(1,1)) converts into this backbone's keys."""
    net = SwinTransformer(embed_dims=16, depths=(2, 2), num_heads=(2, 2), strides=(4, 2),
                          out_indices=(0, 1), drop_path_rate=0.0).eval()
    _randomise(net)
    original = {}
    for key, value in net.state_dict().items():
        if key.startswith("norm") or "relative_position_index" in key:
            continue
        key = key.replace("stages", "layers").replace("attn.w_msa.", "attn.")
        key = key.replace("ffn.layers.0.0.", "mlp.fc1.").replace("ffn.layers.1.", "mlp.fc2.")
        key = key.replace("patch_embed.projection", "patch_embed.proj")
        if "downsample.reduction" in key:  # unfold order -> original order
            out_ch, in_ch = value.shape
            value = value.reshape(out_ch, in_ch // 4, 4).transpose(1, 2)[:, [0, 2, 1, 3]].reshape(out_ch, in_ch)
        elif "downsample.norm" in key:
            value = value.reshape(-1, 4).transpose(0, 1)[[0, 2, 1, 3]].reshape(-1)
        original[key] = value
    converted = swin_converter(original)
    reference = net.state_dict()
    for key, value in converted.items():
        torch.testing.assert_close(value, reference[key.removeprefix("backbone.")], msg=key)
    path = tmp_path / "swin.pth"
    torch.save({"model": original}, path)
    fresh = SwinTransformer(embed_dims=16, depths=(2, 2), num_heads=(2, 2), strides=(4, 2),
                            out_indices=(0, 1), convert_weights=True,
                            init_cfg=dict(type="Pretrained", checkpoint=str(path)))
    with pytest.warns(UserWarning, match="missing keys in the checkpoint: .*norm0.weight"):
        fresh.init_weights()
    torch.testing.assert_close(fresh.stages[0].downsample.reduction.weight,
                               net.stages[0].downsample.reduction.weight)


# ------------------------------------------------------------------ wrappers
def test_torchvision_backbone_resnet_stages_equal_torchvision_layers():
    torch.manual_seed(0)
    backbone = TorchvisionBackbone("resnet18", out_indices=(1, 2, 3)).eval()
    assert backbone.return_nodes == ["layer2", "layer3", "layer4"]
    assert backbone.out_channels == [128, 256, 512] and backbone.strides == [8, 16, 32]
    reference = torchvision.models.resnet18().eval()
    reference.load_state_dict({**{k: v for k, v in reference.state_dict().items()},
                               **{k: v for k, v in backbone.body.state_dict().items()}})
    x = torch.randn(1, 3, 64, 64)
    y = reference.layer1(reference.maxpool(reference.relu(reference.bn1(reference.conv1(x)))))
    for out, layer in zip(backbone(x), [reference.layer2, reference.layer3, reference.layer4]):
        y = layer(y)
        torch.testing.assert_close(out, y)


@pytest.mark.slow
def test_torchvision_backbone_mobilenet_frozen_and_explicit_nodes():
    backbone = TorchvisionBackbone("mobilenet_v3_small", frozen_stages=1, norm_eval=True).train()
    assert backbone.strides == [4, 8, 16, 32]
    outs = backbone(torch.randn(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == backbone.out_channels
    assert [tuple(o.shape[2:]) for o in outs] == [(16, 16), (8, 8), (4, 4), (2, 2)]
    frozen = [n for n, p in backbone.body.named_parameters() if not p.requires_grad]
    assert frozen and all(n.startswith(("features.0.", "features.1.")) for n in frozen)
    assert not any(m.training for m in backbone.modules() if isinstance(m, nn.BatchNorm2d))
    explicit = TorchvisionBackbone("mobilenet_v3_small", return_nodes=["features.1"])
    assert explicit.out_channels == [16]
    with pytest.raises(ValueError, match="are not module outputs of mobilenet_v3_small"):
        TorchvisionBackbone("mobilenet_v3_small", return_nodes=["features.99"])
    with pytest.raises(KeyError, match="torchvision has no model 'resnet5'"):
        TorchvisionBackbone("resnet5")


def test_torchvision_backbone_pretrained_loads_torchvision_file(tmp_path):
    reference = torchvision.models.resnet18()
    _randomise(reference)
    path = tmp_path / "r18.pth"
    torch.save(reference.state_dict(), path)
    backbone = TorchvisionBackbone("resnet18", init_cfg=dict(type="Pretrained", checkpoint=str(path)))
    with pytest.warns(UserWarning, match="unexpected keys in the checkpoint: fc.weight, fc.bias"):
        backbone.init_weights()
    torch.testing.assert_close(backbone.body.get_submodule("layer3.0.conv1").weight, reference.layer3[0].conv1.weight)


@pytest.mark.skipif(importlib.util.find_spec("timm") is None, reason="timm not installed")
def test_timm_backbone_matches_timm_features():
    import timm

    torch.manual_seed(0)
    backbone = TIMMBackbone("resnet18", out_indices=(1, 2, 3, 4)).eval()
    reference = timm.create_model("resnet18", features_only=True, out_indices=(1, 2, 3, 4)).eval()
    reference.load_state_dict(backbone.timm_model.state_dict())
    x = torch.randn(1, 3, 64, 64)
    for a, b in zip(backbone(x), reference(x)):
        torch.testing.assert_close(a, b)
    assert backbone.out_channels == [64, 128, 256, 512] and backbone.strides == [4, 8, 16, 32]
    with pytest.raises(ValueError, match="no model hub is reachable"):
        TIMMBackbone("resnet18", pretrained=True)
