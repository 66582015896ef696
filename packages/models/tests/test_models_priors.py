"""Prior generators: the seeds' documented anchors, MMDetection 3.3.0 parity (base anchors,
grids on several feature sizes, valid flags, sparse priors) and anchor_inside_flags."""

import pytest
import torch

from detcore.structures import HorizontalBoxes
from detmodels.task_modules.prior_generators import (
    AnchorGenerator,
    MlvlPointGenerator,
    SSDAnchorGenerator,
    YOLOAnchorGenerator,
    anchor_inside_flags,
)

FEATMAP_SIZES_5 = [(13, 17), (7, 9), (4, 5), (2, 3), (1, 2)]


def test_anchor_generator_documented_single_level():
    """mmdet.core.anchor.AnchorGenerator docstring: AnchorGenerator([16], [1.], [1.], [9])."""
    anchors = AnchorGenerator([16], [1.0], [1.0], [9]).grid_priors([(2, 2)], device="cpu")
    expected = torch.tensor([[-4.5, -4.5, 4.5, 4.5], [11.5, -4.5, 20.5, 4.5],
                             [-4.5, 11.5, 4.5, 20.5], [11.5, 11.5, 20.5, 20.5]])
    assert len(anchors) == 1
    torch.testing.assert_close(anchors[0], expected)


def test_anchor_generator_documented_two_levels():
    gen = AnchorGenerator([16, 32], [1.0], [1.0], [9, 18])
    anchors = gen.grid_priors([(2, 2), (1, 1)], device="cpu")
    torch.testing.assert_close(anchors[1], torch.tensor([[-9.0, -9.0, 9.0, 9.0]]))
    assert gen.num_base_priors == [1, 1] and gen.num_levels == 2


def test_retinanet_base_anchors_hand_computed():
    """RetinaNet's level-0 anchors: octave scales 4 * 2 ** (i / 3), ratio 1 -> squares."""
    gen = AnchorGenerator(strides=[8], ratios=[1.0], octave_base_scale=4, scales_per_octave=3)
    sides = 8 * 4 * torch.tensor([1.0, 2 ** (1 / 3), 2 ** (2 / 3)])
    expected = torch.stack([-sides / 2, -sides / 2, sides / 2, sides / 2], dim=1)
    torch.testing.assert_close(gen.base_anchors[0], expected)


def test_anchor_order_is_cell_major_then_base_anchor():
    gen = AnchorGenerator(strides=[10], ratios=[0.5, 1.0, 2.0], scales=[2.0])
    anchors = gen.grid_priors([(2, 3)], device="cpu")[0]
    assert anchors.shape == (2 * 3 * 3, 4)
    # index (y * w + x) * A + a: cell (x=2, y=1) shifts base anchor a by (20, 10)
    torch.testing.assert_close(anchors[(1 * 3 + 2) * 3 + 1], gen.base_anchors[0][1] + torch.tensor([20.0, 10, 20, 10]))


RETINA = dict(type="AnchorGenerator", octave_base_scale=4, scales_per_octave=3,
              ratios=[0.5, 1.0, 2.0], strides=[8, 16, 32, 64, 128])
RPN = dict(type="AnchorGenerator", scales=[8], ratios=[0.5, 1.0, 2.0], strides=[4, 8, 16, 32, 64])
GENERATOR_CASES = [
    RETINA,
    RPN,
    dict(type="AnchorGenerator", scales=[8, 16], ratios=[0.5, 2.0], strides=[(8, 4), (16, 8)],
         scale_major=False, center_offset=0.5),
    dict(type="AnchorGenerator", scales=[4], ratios=[1.0], strides=[8, 16],
         centers=[(3.0, 5.0), (7.5, 1.0)], base_sizes=[10, 20]),
    dict(type="SSDAnchorGenerator", scale_major=False, input_size=300,
         basesize_ratio_range=(0.15, 0.9), strides=[8, 16, 32, 64, 100, 300],
         ratios=[[2], [2, 3], [2, 3], [2, 3], [2], [2]]),
    dict(type="SSDAnchorGenerator", scale_major=False, input_size=512,
         basesize_ratio_range=(0.1, 0.9), strides=[8, 16, 32, 64, 128, 256, 512],
         ratios=[[2], [2, 3], [2, 3], [2, 3], [2, 3], [2], [2]]),
    dict(type="SSDAnchorGenerator", strides=[16, 32], ratios=[[2], [2, 3]],
         min_sizes=[48, 100], max_sizes=[100, 150]),
    dict(type="YOLOAnchorGenerator", strides=[32, 16, 8],
         base_sizes=[[(116, 90), (156, 198), (373, 326)], [(30, 61), (62, 45), (59, 119)],
                     [(10, 13), (16, 30), (33, 23)]]),
]
OURS = {"AnchorGenerator": AnchorGenerator, "SSDAnchorGenerator": SSDAnchorGenerator,
        "YOLOAnchorGenerator": YOLOAnchorGenerator, "MlvlPointGenerator": MlvlPointGenerator}


@pytest.fixture
def pair(mmdet, request):
    """(ours, mmdet's) generator built from the same config."""
    from mmdet.registry import TASK_UTILS as MM

    cfg = dict(request.param)
    kind = cfg.pop("type")
    return OURS[kind](**cfg), MM.build(dict(cfg, type=kind))


def _sizes_for(gen):
    return FEATMAP_SIZES_5[: gen.num_levels] if gen.num_levels <= 5 else \
        [(19, 19), (10, 10), (5, 5), (3, 3), (2, 2), (1, 1), (1, 1)][: gen.num_levels]


@pytest.mark.peer
@pytest.mark.parametrize("pair", GENERATOR_CASES, indirect=True,
                         ids=[f"{c['type']}-{i}" for i, c in enumerate(GENERATOR_CASES)])
def test_anchor_generators_match_mmdet(pair):
    ours, ref = pair
    assert ours.num_levels == ref.num_levels
    assert ours.num_base_priors == ref.num_base_priors
    for a, b in zip(ours.base_anchors, ref.base_anchors):
        torch.testing.assert_close(a, b, atol=0, rtol=0)
    sizes = _sizes_for(ours)
    for dtype in (torch.float32, torch.float64):
        for a, b in zip(ours.grid_priors(sizes, dtype=dtype, device="cpu"),
                        ref.grid_priors(sizes, dtype=dtype, device="cpu")):
            assert a.dtype == b.dtype == dtype
            torch.testing.assert_close(a, b, atol=0, rtol=0)
    pad_shape = (sizes[0][0] * ours.strides[0][1] - 13, sizes[0][1] * ours.strides[0][0] - 21)
    for a, b in zip(ours.valid_flags(sizes, pad_shape, device="cpu"),
                    ref.valid_flags(sizes, pad_shape, device="cpu")):
        assert torch.equal(a, b)
    level = min(1, ours.num_levels - 1)
    idxs = torch.tensor([0, 3, 7, sizes[level][0] * sizes[level][1] * ours.num_base_priors[level] - 1])
    torch.testing.assert_close(ours.sparse_priors(idxs, sizes[level], level, device="cpu"),
                               ref.sparse_priors(idxs, sizes[level], level, device="cpu"))


POINT_CASES = [dict(type="MlvlPointGenerator", strides=[8, 16, 32, 64, 128]),
               dict(type="MlvlPointGenerator", strides=[(8, 4), 16], offset=0.0)]


@pytest.mark.peer
@pytest.mark.parametrize("pair", POINT_CASES, indirect=True)
@pytest.mark.parametrize("with_stride", [False, True])
def test_point_generator_matches_mmdet(pair, with_stride):
    ours, ref = pair
    sizes = FEATMAP_SIZES_5[: ours.num_levels]
    assert ours.num_base_priors == ref.num_base_priors
    for dtype in (torch.float32, torch.float16):
        for a, b in zip(ours.grid_priors(sizes, dtype=dtype, device="cpu", with_stride=with_stride),
                        ref.grid_priors(sizes, dtype=dtype, device="cpu", with_stride=with_stride)):
            assert a.dtype == b.dtype
            torch.testing.assert_close(a, b, atol=0, rtol=0)
    for a, b in zip(ours.valid_flags(sizes, (97, 120), device="cpu"),
                    ref.valid_flags(sizes, (97, 120), device="cpu")):
        assert torch.equal(a, b)
    idxs = torch.tensor([0, 5, 17, sizes[0][0] * sizes[0][1] - 1])
    torch.testing.assert_close(ours.sparse_priors(idxs, sizes[0], 0, device="cpu"),
                               ref.sparse_priors(idxs, sizes[0], 0, device="cpu"))


def test_point_generator_hand_computed():
    points = MlvlPointGenerator([8]).grid_priors([(2, 3)], device="cpu", with_stride=True)[0]
    expected = torch.tensor([[4.0, 4, 8, 8], [12, 4, 8, 8], [20, 4, 8, 8],
                             [4, 12, 8, 8], [12, 12, 8, 8], [20, 12, 8, 8]])
    torch.testing.assert_close(points, expected)


def test_valid_flags_hand_computed():
    """A 30 x 20 image padded to a 4 x 4 grid of stride 8: 4 rows x 3 columns are on it."""
    gen = AnchorGenerator([8], ratios=[0.5, 2.0], scales=[1.0])
    flags = gen.valid_flags([(4, 4)], (30, 20), device="cpu")[0].view(4, 4, 2)
    assert flags[:, :3].all() and not flags[:, 3].any()


def test_ssd300_sizes_hand_computed():
    """SSD300 with basesize_ratio_range (0.15, 0.9): min sizes 21, 45, 99, 153, 207, 261."""
    gen = SSDAnchorGenerator(strides=[8, 16, 32, 64, 100, 300], ratios=[[2], [2, 3], [2, 3], [2, 3], [2], [2]],
                             scale_major=False)
    assert gen.base_sizes == [21, 45, 99, 153, 207, 261]
    assert gen.num_base_priors == [4, 6, 6, 6, 4, 4]
    first = gen.base_anchors[0]
    torch.testing.assert_close(first[0], torch.tensor([4 - 10.5, 4 - 10.5, 4 + 10.5, 4 + 10.5]))
    side = (21 * 45) ** 0.5  # the sqrt(min * max) square comes second
    torch.testing.assert_close(first[1], torch.tensor([4 - side / 2, 4 - side / 2, 4 + side / 2, 4 + side / 2]))


def test_yolo_base_anchors_hand_computed():
    gen = YOLOAnchorGenerator(strides=[32], base_sizes=[[(116, 90), (10, 13)]])
    torch.testing.assert_close(gen.base_anchors[0], torch.tensor([[16 - 58.0, 16 - 45, 16 + 58, 16 + 45],
                                                                  [16 - 5.0, 16 - 6.5, 16 + 5, 16 + 6.5]]))


def test_use_box_type_returns_horizontal_boxes():
    anchors = AnchorGenerator([16], [1.0], [1.0], use_box_type=True).grid_priors([(2, 2)], device="cpu")[0]
    assert isinstance(anchors, HorizontalBoxes) and anchors.tensor.shape == (4, 4)


@pytest.mark.peer
@pytest.mark.parametrize("allowed_border", [-1, 0, 5])
def test_anchor_inside_flags_matches_mmdet(mmdet, allowed_border):
    from mmdet.models.task_modules.prior_generators import anchor_inside_flags as reference

    anchors = AnchorGenerator(**{k: v for k, v in RPN.items() if k != "type"}).grid_priors(
        [(6, 8)] + [(3, 4), (2, 2), (1, 1), (1, 1)], device="cpu")[0]
    valid = torch.rand(len(anchors), generator=torch.Generator().manual_seed(0)) > 0.2
    ours = anchor_inside_flags(anchors, valid, (22, 30), allowed_border)
    assert torch.equal(ours, reference(anchors, valid, (22, 30), allowed_border))
    assert torch.equal(anchor_inside_flags(HorizontalBoxes(anchors), valid, (22, 30), allowed_border), ours)


def test_argument_errors_name_the_problem():
    with pytest.raises(ValueError, match="give either scales or both octave_base_scale"):
        AnchorGenerator([8], [1.0], scales=[1.0], octave_base_scale=4, scales_per_octave=3)
    with pytest.raises(ValueError, match="center_offset must be in"):
        AnchorGenerator([8], [1.0], scales=[1.0], center_offset=1.5)
    with pytest.raises(ValueError, match="need one base size per stride"):
        AnchorGenerator([8, 16], [1.0], scales=[1.0], base_sizes=[8])
    with pytest.raises(ValueError, match="has 2 levels, but got 1 feature map sizes"):
        AnchorGenerator([8, 16], [1.0], scales=[1.0]).grid_priors([(2, 2)], device="cpu")
    with pytest.raises(ValueError, match="only for input_size 300 or 512"):
        SSDAnchorGenerator([8, 16, 32], [[2], [2], [2]], input_size=400)
    with pytest.raises(ValueError, match="every level needs the same number of base sizes"):
        YOLOAnchorGenerator([32, 16], [[(1, 2), (3, 4)], [(5, 6)]])
