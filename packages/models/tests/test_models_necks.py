"""Necks against MMDetection 3.3.0 (same state_dict keys; same outputs to 1e-4 with
MMDetection's random weights; same initialisation draws), the output shapes documented in
MMDetection's API reference (the seeds), and RetinaNet's documented parameter count."""

import pytest
import torch
from torch import nn

from detcore.registry import MODELS
from detmodels.backbones import ResNet
from detmodels.necks import FPN, PAFPN, ChannelMapper, DilatedEncoder

_LAYERS = {"Conv2d": "torch.nn:Conv2d", "BN": "torch.nn:BatchNorm2d", "GN": "torch.nn:GroupNorm",
           "ReLU": "torch.nn:ReLU"}


@pytest.fixture(autouse=True, scope="module")
def _layers_registered():
    # a no-op once detmodels' plugin registers these (/work/briefs/h10_registrations.txt)
    for name, target in _LAYERS.items():
        if name not in MODELS:
            MODELS.register_lazy({name: target})


IN_CHANNELS = [4, 6, 8, 10]
SIZES = [(32, 40), (16, 20), (8, 10), (4, 5)]


def _inputs(channels=IN_CHANNELS, sizes=SIZES, batch=2):
    return [torch.randn(batch, c, *s) for c, s in zip(channels, sizes)]


def _assert_same_as_mmdet(cfg, ours_cls, inputs, train=False):
    from mmdet.registry import MODELS as MMDET_MODELS

    theirs = MMDET_MODELS.build(cfg)
    ours = ours_cls(**{k: v for k, v in cfg.items() if k != "type"})
    with torch.no_grad():
        for p in theirs.parameters():
            p.normal_(0, 0.2)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict(), strict=True)
    ours.train(train)
    theirs.train(train)
    their_out, our_out = theirs(inputs), ours(inputs)
    assert len(our_out) == len(their_out)
    for a, b in zip(our_out, their_out):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    return our_out


FPN_CASES = {
    "maxpool-extras": dict(num_outs=6),
    "extra-true": dict(num_outs=6, add_extra_convs=True),
    "on_input": dict(num_outs=5, start_level=1, add_extra_convs="on_input"),
    "on_lateral": dict(num_outs=6, add_extra_convs="on_lateral", relu_before_extra_convs=True),
    "on_output-relu": dict(num_outs=7, start_level=1, add_extra_convs="on_output",
                           relu_before_extra_convs=True),
    "end_level": dict(num_outs=2, start_level=1, end_level=2),
    "norm-act": dict(num_outs=5, norm_cfg=dict(type="BN"), act_cfg=dict(type="ReLU"),
                     no_norm_on_lateral=True, add_extra_convs="on_output"),
    "gn": dict(num_outs=4, norm_cfg=dict(type="GN", num_groups=4)),
    "scale-factor": dict(num_outs=4, upsample_cfg=dict(scale_factor=2, mode="nearest")),
}


@pytest.mark.peer
@pytest.mark.parametrize("name", list(FPN_CASES))
def test_fpn_matches_mmdet(mmdet, name):
    sizes = [(32, 40), (16, 20), (8, 10), (4, 5)] if name == "scale-factor" else [(33, 41), (17, 21), (9, 11), (5, 6)]
    outs = _assert_same_as_mmdet(dict(type="FPN", in_channels=IN_CHANNELS, out_channels=8, **FPN_CASES[name]),
                                 FPN, _inputs(sizes=sizes))
    assert len(outs) == FPN_CASES[name]["num_outs"]


@pytest.mark.peer
@pytest.mark.parametrize("kwargs", [dict(num_outs=5), dict(num_outs=5, add_extra_convs="on_input"),
                                    dict(num_outs=6, start_level=1, add_extra_convs="on_lateral",
                                         norm_cfg=dict(type="BN"), act_cfg=dict(type="ReLU")),
                                    dict(num_outs=5, add_extra_convs="on_output", relu_before_extra_convs=True)])
def test_pafpn_matches_mmdet(mmdet, kwargs):
    _assert_same_as_mmdet(dict(type="PAFPN", in_channels=IN_CHANNELS, out_channels=8, **kwargs), PAFPN,
                          _inputs(sizes=[(33, 41), (17, 21), (9, 11), (5, 6)]))


@pytest.mark.peer
@pytest.mark.parametrize("kwargs", [dict(), dict(kernel_size=1, num_outs=6, norm_cfg=dict(type="GN", num_groups=4)),
                                    dict(act_cfg=None, bias=True, num_outs=5)])
def test_channel_mapper_matches_mmdet(mmdet, kwargs):
    _assert_same_as_mmdet(dict(type="ChannelMapper", in_channels=IN_CHANNELS, out_channels=8, **kwargs),
                          ChannelMapper, _inputs())


@pytest.mark.peer
def test_dilated_encoder_matches_mmdet_in_both_modes(mmdet):
    cfg = dict(type="DilatedEncoder", in_channels=10, out_channels=8, block_mid_channels=4,
               num_residual_blocks=4, block_dilations=[2, 4, 6, 8])
    for train in (False, True):
        outs = _assert_same_as_mmdet(cfg, DilatedEncoder, _inputs(), train=train)
        assert len(outs) == 1 and outs[0].shape == (2, 8, 4, 5)


@pytest.mark.peer
def test_fpn_and_dilated_encoder_initialise_like_mmdet(mmdet):
    from mmdet.registry import MODELS as MMDET_MODELS

    for cfg, ours_cls in [
        (dict(type="FPN", in_channels=IN_CHANNELS, out_channels=8, num_outs=5, add_extra_convs="on_input"), FPN),
        (dict(type="DilatedEncoder", in_channels=10, out_channels=8, block_mid_channels=4,
              num_residual_blocks=2, block_dilations=[2, 4]), DilatedEncoder),
    ]:
        torch.manual_seed(3)
        theirs = MMDET_MODELS.build(cfg)
        theirs.init_weights()
        torch.manual_seed(3)
        ours = ours_cls(**{k: v for k, v in cfg.items() if k != "type"})
        ours.init_weights()
        for (key, a), b in zip(theirs.state_dict().items(), ours.state_dict().values()):
            torch.testing.assert_close(b, a, msg=key)


def test_fpn_documented_output_shapes():
    in_channels, scales = [2, 3, 5, 7], [340, 170, 84, 43]
    inputs = [torch.rand(1, c, s, s) for c, s in zip(in_channels, scales)]
    for neck in (FPN(in_channels, 11, len(in_channels)), ChannelMapper(in_channels, 11, 3)):
        outputs = neck.eval()(inputs)
        assert [tuple(o.shape) for o in outputs] == [(1, 11, s, s) for s in scales]


def test_fpn_extra_levels_by_hand():
    """Without extra convs an extra level is a stride-2 subsampling of the last output."""
    neck = FPN([4, 6], 3, num_outs=4).eval()
    outs = neck(_inputs([4, 6], [(8, 8), (4, 4)]))
    torch.testing.assert_close(outs[2], outs[1][:, :, ::2, ::2])
    torch.testing.assert_close(outs[3], outs[1][:, :, ::4, ::4])


def test_neck_argument_errors():
    with pytest.raises(ValueError, match="add_extra_convs must be a bool or one of"):
        FPN([4, 6], 3, num_outs=3, add_extra_convs="on_top")
    with pytest.raises(ValueError, match="num_outs=1 is fewer than the 2 levels used"):
        FPN([4, 6], 3, num_outs=1)
    with pytest.raises(ValueError, match="expected 2 input levels, got 1"):
        FPN([4, 6], 3, num_outs=2)([torch.zeros(1, 4, 4, 4)])
    with pytest.raises(ValueError, match="3 block_dilations for 2 residual blocks"):
        DilatedEncoder(4, 4, 2, 2, [1, 2, 3])


@pytest.mark.peer
def test_retinanet_backbone_and_neck_parameter_count(mmdet):
    """RetinaNet R50-FPN has 37,968,692 parameters (reference/mmdet-as-reference.md). Its
    RetinaHead has by hand 4 + 4 convs 256->256 3x3 (590,080 each), retina_cls 256->9*80
    (1,659,600) and retina_reg 256->9*4 (82,980): 6,463,220. So backbone + neck: 31,505,472."""
    from mmdet.registry import MODELS as MMDET_MODELS

    head = 8 * (256 * 256 * 9 + 256) + (256 * 720 * 9 + 720) + (256 * 36 * 9 + 36)
    expected = 37_968_692 - head
    assert expected == 31_505_472
    backbone = ResNet(depth=50, frozen_stages=1, norm_cfg=dict(type="BN", requires_grad=True))
    neck_cfg = dict(in_channels=[256, 512, 1024, 2048], out_channels=256, start_level=1,
                    add_extra_convs="on_input", num_outs=5)
    ours = sum(p.numel() for m in (backbone, FPN(**neck_cfg)) for p in m.parameters())
    theirs = sum(p.numel() for m in (MMDET_MODELS.build(dict(type="ResNet", depth=50)),
                                     MMDET_MODELS.build(dict(type="FPN", **neck_cfg)))
                 for p in m.parameters())
    assert ours == theirs == expected


def test_fpn_gradients_reach_every_parameter():
    neck = FPN(IN_CHANNELS, 8, num_outs=6, add_extra_convs="on_input", relu_before_extra_convs=True)
    sum(o.sum() for o in neck(_inputs())).backward()
    unused = [n for n, p in neck.named_parameters() if p.grad is None]
    assert unused == []
    assert isinstance(neck.fpn_convs[4].conv, nn.Conv2d) and neck.fpn_convs[4].conv.in_channels == 10
