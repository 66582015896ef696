"""Box coders: hand-computed deltas, round trips, torchvision's BoxCoder, and MMDetection 3.3.0
parity for encode/decode with means/stds, clipping, ctr_clamp, wh_ratio_clip and batches."""

import math

import pytest
import torch
from torchvision.models.detection._utils import BoxCoder

from detcore.structures import HorizontalBoxes
from detmodels.task_modules.coders import (
    DeltaXYWHBBoxCoder,
    DistancePointBBoxCoder,
    PseudoBBoxCoder,
    TBLRBBoxCoder,
)

OURS = {"DeltaXYWHBBoxCoder": DeltaXYWHBBoxCoder, "DistancePointBBoxCoder": DistancePointBBoxCoder,
        "TBLRBBoxCoder": TBLRBBoxCoder, "PseudoBBoxCoder": PseudoBBoxCoder}


def _boxes(n, seed, scale=60.0):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * scale
    wh = torch.rand(n, 2, generator=g) * scale + 1
    return torch.cat([xy, xy + wh], dim=1)


def _build_both(cfg):
    from mmdet.registry import TASK_UTILS as MM

    kwargs = {k: v for k, v in cfg.items() if k != "type"}
    return OURS[cfg["type"]](**kwargs), MM.build(dict(cfg))


def test_delta_encode_hand_computed():
    """Prior 10x10 at (5, 5); gt 20x10 centred at (10, 5): dx = 0.5, dy = 0, dw = log 2, dh = 0."""
    coder = DeltaXYWHBBoxCoder()
    deltas = coder.encode(torch.tensor([[0.0, 0, 10, 10]]), torch.tensor([[0.0, 0, 20, 10]]))
    torch.testing.assert_close(deltas, torch.tensor([[0.5, 0.0, math.log(2), 0.0]]))
    normalised = DeltaXYWHBBoxCoder(target_stds=(0.1, 0.1, 0.2, 0.2)).encode(
        torch.tensor([[0.0, 0, 10, 10]]), torch.tensor([[0.0, 0, 20, 10]]))
    torch.testing.assert_close(normalised, torch.tensor([[5.0, 0.0, math.log(2) / 0.2, 0.0]]))


def test_delta_coder_matches_torchvision_boxcoder():
    """torchvision's R-CNN BoxCoder with weights 1 / stds is the same coding."""
    priors, gts = _boxes(20, 0), _boxes(20, 1)
    ours = DeltaXYWHBBoxCoder(target_stds=(0.1, 0.1, 0.2, 0.2))
    ref = BoxCoder(weights=(10.0, 10.0, 5.0, 5.0))
    torch.testing.assert_close(ours.encode(priors, gts), ref.encode_single(gts, priors), atol=1e-5, rtol=1e-5)
    deltas = torch.randn(20, 4, generator=torch.Generator().manual_seed(2)) * 0.3
    torch.testing.assert_close(ours.decode(priors, deltas), ref.decode_single(deltas, priors), atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("coder", [
    DeltaXYWHBBoxCoder(target_means=(0.1, -0.2, 0.0, 0.05), target_stds=(0.1, 0.1, 0.2, 0.2)),
    TBLRBBoxCoder(normalizer=4.0),
    TBLRBBoxCoder(normalizer=[1.0, 2.0, 3.0, 4.0]),
])
def test_round_trip_recovers_gt(coder):
    priors, gts = _boxes(30, 3), _boxes(30, 4)
    torch.testing.assert_close(coder.decode(priors, coder.encode(priors, gts)), gts, atol=1e-4, rtol=1e-5)


def test_distance_coder_round_trip_and_hand_computed():
    coder = DistancePointBBoxCoder()
    points = torch.tensor([[10.0, 10.0]])
    box = torch.tensor([[4.0, 7.0, 13.0, 20.0]])
    torch.testing.assert_close(coder.encode(points, box), torch.tensor([[6.0, 3.0, 3.0, 10.0]]))
    torch.testing.assert_close(coder.encode(points, box, max_dis=8.0), torch.tensor([[6.0, 3.0, 3.0, 7.9]]))
    torch.testing.assert_close(coder.decode(points, coder.encode(points, box)), box)
    torch.testing.assert_close(coder.decode(points, torch.tensor([[20.0, 1.0, 1.0, 50.0]]), max_shape=(40, 30)),
                               torch.tensor([[0.0, 9.0, 11.0, 40.0]]))


DELTA_CASES = [
    dict(type="DeltaXYWHBBoxCoder"),
    dict(type="DeltaXYWHBBoxCoder", target_means=[0.0, 0.0, 0.0, 0.0], target_stds=[0.1, 0.1, 0.2, 0.2]),
    dict(type="DeltaXYWHBBoxCoder", target_means=(0.1, -0.1, 0.05, 0.0), target_stds=(0.5, 0.5, 1.0, 1.0),
         clip_border=False),
    dict(type="DeltaXYWHBBoxCoder", add_ctr_clamp=True, ctr_clamp=8),
]


@pytest.mark.peer
@pytest.mark.parametrize("cfg", DELTA_CASES)
def test_delta_coder_matches_mmdet(mmdet, cfg):
    ours, ref = _build_both(cfg)
    priors, gts = _boxes(25, 5), _boxes(25, 6)
    torch.testing.assert_close(ours.encode(priors, gts), ref.encode(priors, gts), atol=0, rtol=0)
    deltas = torch.randn(25, 4, generator=torch.Generator().manual_seed(7)) * 2  # some clipped by wh_ratio_clip
    for kwargs in ({}, {"max_shape": (50, 70)}, {"max_shape": (50, 70), "wh_ratio_clip": 0.1}):
        torch.testing.assert_close(ours.decode(priors, deltas, **kwargs),
                                   ref.decode(priors, deltas, **kwargs), atol=1e-5, rtol=1e-6)
    class_deltas = torch.randn(25, 12, generator=torch.Generator().manual_seed(8))  # 3 boxes per prior
    torch.testing.assert_close(ours.decode(priors, class_deltas, max_shape=(50, 70)),
                               ref.decode(priors, class_deltas, max_shape=(50, 70)), atol=1e-5, rtol=1e-6)
    assert ours.decode(priors[:0], deltas[:0]).shape == ref.decode(priors[:0], deltas[:0]).shape


@pytest.mark.peer
@pytest.mark.parametrize("cfg", DELTA_CASES[1:3])
def test_batched_delta_decode_matches_mmdet(mmdet, cfg):
    """(B, N, 4k) deltas with per-image max_shape, MMDetection's batched (ONNX) decoding."""
    ours, ref = _build_both(cfg)
    priors = torch.stack([_boxes(10, 9), _boxes(10, 10)])
    deltas = torch.randn(2, 10, 8, generator=torch.Generator().manual_seed(11))
    max_shape = torch.tensor([[40, 50], [60, 30]])
    with pytest.warns(UserWarning):  # mmdet warns that batched decoding is deprecated
        expected = ref.decode(priors, deltas, max_shape=max_shape)
    torch.testing.assert_close(ours.decode(priors, deltas, max_shape=max_shape), expected, atol=1e-5, rtol=1e-6)
    with pytest.warns(UserWarning):
        expected = ref.decode(priors, deltas[..., :4], max_shape=(45, 55))
    torch.testing.assert_close(ours.decode(priors, deltas[..., :4], max_shape=(45, 55)), expected, atol=1e-5, rtol=1e-6)


@pytest.mark.peer
@pytest.mark.parametrize("cfg", [dict(type="TBLRBBoxCoder"), dict(type="TBLRBBoxCoder", normalizer=1.0),
                                 dict(type="TBLRBBoxCoder", normalizer=[2.0, 3.0, 4.0, 5.0], clip_border=False)])
def test_tblr_coder_matches_mmdet(mmdet, cfg):
    ours, ref = _build_both(cfg)
    priors, gts = _boxes(25, 12), _boxes(25, 13)
    torch.testing.assert_close(ours.encode(priors, gts), ref.encode(priors, gts), atol=1e-6, rtol=1e-6)
    pred = torch.randn(25, 4, generator=torch.Generator().manual_seed(14))
    for kwargs in ({}, {"max_shape": (40, 55)}):
        torch.testing.assert_close(ours.decode(priors, pred, **kwargs), ref.decode(priors, pred, **kwargs),
                                   atol=1e-5, rtol=1e-6)
    batched_priors, batched_pred = torch.stack([priors, priors.flip(0)]), torch.stack([pred, -pred])
    max_shape = torch.tensor([[40, 55], [30, 80]])
    torch.testing.assert_close(ours.decode(batched_priors, batched_pred, max_shape=max_shape),
                               ref.decode(batched_priors, batched_pred, max_shape=max_shape), atol=1e-5, rtol=1e-6)


@pytest.mark.peer
@pytest.mark.parametrize("clip_border", [True, False])
def test_distance_coder_matches_mmdet(mmdet, clip_border):
    ours, ref = _build_both(dict(type="DistancePointBBoxCoder", clip_border=clip_border))
    gts = _boxes(25, 15)
    points = (gts[:, :2] + gts[:, 2:]) / 2 + torch.randn(25, 2, generator=torch.Generator().manual_seed(16)) * 5
    for kwargs in ({}, {"max_dis": 16.0}, {"max_dis": 16.0, "eps": 0.5}):
        torch.testing.assert_close(ours.encode(points, gts, **kwargs), ref.encode(points, gts, **kwargs))
    distances = torch.rand(25, 4, generator=torch.Generator().manual_seed(17)) * 30
    for kwargs in ({}, {"max_shape": (40, 50)}):
        torch.testing.assert_close(ours.decode(points, distances, **kwargs), ref.decode(points, distances, **kwargs))
    batched = torch.stack([distances, distances * 2])
    max_shape = torch.tensor([[40, 50], [70, 20]])
    torch.testing.assert_close(ours.decode(torch.stack([points, points]), batched, max_shape=max_shape),
                               ref.decode(torch.stack([points, points]), batched, max_shape=max_shape))


def test_use_box_type_and_pseudo_coder():
    priors, gts = _boxes(5, 18), _boxes(5, 19)
    coder = DeltaXYWHBBoxCoder(use_box_type=True)
    decoded = coder.decode(priors, coder.encode(HorizontalBoxes(priors), HorizontalBoxes(gts)))
    assert isinstance(decoded, HorizontalBoxes)
    torch.testing.assert_close(decoded.tensor, gts, atol=1e-4, rtol=1e-5)
    pseudo = PseudoBBoxCoder()
    assert pseudo.encode(priors, gts) is gts and pseudo.decode(priors, gts) is gts
    assert DeltaXYWHBBoxCoder.encode_size == 4


def test_coder_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"encode needs \(N, 4\) priors and gt boxes, but got \(3, 4\) and \(2, 4\)"):
        DeltaXYWHBBoxCoder().encode(_boxes(3, 0), _boxes(2, 0))
    with pytest.raises(ValueError, match="decode needs one prior per prediction"):
        DeltaXYWHBBoxCoder().decode(_boxes(3, 0), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="normalizer must be a float or 4 floats"):
        TBLRBBoxCoder(normalizer=[1.0, 2.0]).encode(_boxes(3, 0), _boxes(3, 1))
    with pytest.raises(ValueError, match=r"decode needs \(\.\.\., 2\) points"):
        DistancePointBBoxCoder().decode(torch.zeros(3, 2), torch.zeros(2, 4))
