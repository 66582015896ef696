"""Losses: MMDetection 3.3.0 parity (value and gradient), PyTorch/torchvision references,
hand-computed values and the reduction rules."""

import math

import pytest
import torch
import torch.nn.functional as F
import torchvision

from detmodels import losses as L
from detmodels.losses.utils import weight_reduce_loss, weighted_loss

# ---------------------------------------------------------------------------- inputs


def _boxes(n, seed):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 50
    wh = torch.rand(n, 2, generator=g) * 40 + 2
    return torch.cat([xy, xy + wh], dim=1)


def _inputs(kind, seed=0):
    """(pred, target, extra forward kwargs) for one kind of loss."""
    g = torch.Generator().manual_seed(seed)
    n, c = 12, 5
    if kind == "cls_index":  # logits and class indices, c = background
        return torch.randn(n, c, generator=g) * 2, torch.randint(0, c + 1, (n,), generator=g)
    if kind == "cls_softmax":
        return torch.randn(n, c, generator=g) * 2, torch.randint(0, c, (n,), generator=g)
    if kind == "cls_onehot":
        labels = torch.randint(0, c + 1, (n,), generator=g)
        return torch.randn(n, c, generator=g) * 2, F.one_hot(labels, c + 1)[:, :c]
    if kind == "cls_prob":
        return torch.rand(n, c, generator=g) * 0.98 + 0.01, torch.randint(0, c + 1, (n,), generator=g)
    if kind == "quality":  # dense IoU-like targets: one class per positive sample
        labels = torch.randint(0, c + 1, (n,), generator=g)
        scores = torch.rand(n, generator=g)
        target = F.one_hot(labels, c + 1)[:, :c].float() * scores[:, None]
        return torch.randn(n, c, generator=g) * 2, target
    if kind == "qfl_pair":
        labels = torch.randint(0, c + 1, (n,), generator=g)
        return torch.randn(n, c, generator=g) * 2, (labels, torch.rand(n, generator=g))
    if kind == "dfl":
        return torch.randn(n, 17, generator=g), torch.rand(n, generator=g) * 15.99
    if kind == "regression":
        return torch.randn(n, 4, generator=g), torch.randn(n, 4, generator=g)
    if kind == "boxes":
        pred = _boxes(n, seed)
        target = pred + torch.randn(n, 4, generator=g) * 6
        target[:, 2:] = torch.maximum(target[:, 2:], target[:, :2] + 1)
        target[:3] = _boxes(3, seed + 7) + 100  # a few disjoint pairs
        return pred, target
    if kind == "mask":
        return torch.randn(4, 3, 7, 7, generator=g), (torch.rand(4, 7, 7, generator=g) > 0.5).float()
    if kind == "dice":
        return torch.randn(4, 7, 7, generator=g), (torch.rand(4, 7, 7, generator=g) > 0.5).float()
    raise KeyError(kind)


def _weight(kind, pred, seed=1):
    g = torch.Generator().manual_seed(seed)
    if kind is None:
        return None
    if kind == "sample":
        return torch.rand(pred.shape[0], generator=g)
    if kind == "element":
        return torch.rand(pred.shape, generator=g)
    raise KeyError(kind)


# (config, input kind, weight kind)
PARITY_CASES = [
    (dict(type="CrossEntropyLoss"), "cls_softmax", "sample"),
    (dict(type="CrossEntropyLoss", class_weight=[1.0, 2.0, 0.5, 1.0, 3.0]), "cls_softmax", None),
    (dict(type="CrossEntropyLoss", ignore_index=2, avg_non_ignore=True), "cls_softmax", "sample"),
    (dict(type="CrossEntropyLoss", use_sigmoid=True), "cls_index", "sample"),
    (dict(type="CrossEntropyLoss", use_sigmoid=True, ignore_index=1, avg_non_ignore=True),
     "cls_index", None),
    (dict(type="CrossEntropyLoss", use_sigmoid=True, loss_weight=2.0), "quality", "element"),
    (dict(type="FocalLoss", gamma=2.0, alpha=0.25, loss_weight=1.5), "cls_index", "sample"),
    (dict(type="FocalLoss"), "cls_index", "element"),
    (dict(type="FocalLoss", gamma=1.5, alpha=0.4), "cls_onehot", "sample"),
    (dict(type="FocalLoss", activated=True), "cls_prob", "sample"),
    (dict(type="QualityFocalLoss", beta=2.0, loss_weight=1.0), "qfl_pair", "sample"),
    (dict(type="QualityFocalLoss"), "quality", "sample"),
    (dict(type="DistributionFocalLoss", loss_weight=0.25), "dfl", "sample"),
    (dict(type="VarifocalLoss"), "quality", "element"),
    (dict(type="VarifocalLoss", iou_weighted=False, alpha=0.5, gamma=1.0), "quality", None),
    (dict(type="SmoothL1Loss", beta=1.0 / 9.0, loss_weight=1.0), "regression", "element"),
    (dict(type="L1Loss", loss_weight=2.0), "regression", "element"),
    (dict(type="BalancedL1Loss", alpha=0.5, gamma=1.5, beta=1.0), "regression", "element"),
    (dict(type="IoULoss"), "boxes", "sample"),
    (dict(type="IoULoss", mode="linear"), "boxes", "element"),
    (dict(type="IoULoss", mode="square"), "boxes", None),
    (dict(type="GIoULoss", loss_weight=2.0), "boxes", "sample"),
    (dict(type="DIoULoss"), "boxes", "sample"),
    (dict(type="CIoULoss"), "boxes", "element"),
    (dict(type="EIoULoss"), "boxes", "sample"),
    (dict(type="SIoULoss"), "boxes", "sample"),
    (dict(type="SIoULoss", neg_gamma=True), "boxes", None),
    (dict(type="DiceLoss"), "dice", "sample"),
    (dict(type="DiceLoss", naive_dice=True, eps=1.0), "dice", None),
]


def _run(module, pred, target, weight, **kwargs):
    """Loss value and gradient w.r.t. pred."""
    pred = pred.clone().requires_grad_(True)
    loss = module(pred, target, weight, **kwargs) if weight is not None else module(pred, target, **kwargs)
    loss.sum().backward()
    return loss.detach(), pred.grad


def _ours(cfg):
    cfg = dict(cfg)
    return getattr(L, cfg.pop("type"))(**cfg)


@pytest.mark.peer
@pytest.mark.parametrize("reduction", [{}, {"reduction_override": "none"},
                                       {"reduction_override": "sum"}, {"avg_factor": 3.5}])
@pytest.mark.parametrize("cfg,kind,weight_kind", PARITY_CASES,
                         ids=[f"{c['type']}-{k}-{w}-{i}" for i, (c, k, w) in enumerate(PARITY_CASES)])
def test_loss_matches_mmdet(mmdet, cfg, kind, weight_kind, reduction):
    from mmdet.registry import MODELS as MM

    pred, target = _inputs(kind)
    weight = _weight(weight_kind, pred)
    if cfg["type"] == "DiceLoss" and "avg_factor" in reduction:
        reduction = {"avg_factor": 3.5}
    ours = _run(_ours(cfg), pred, target, weight, **reduction)
    ref = _run(MM.build(cfg), pred, target, weight, **reduction)
    assert ours[0].shape == ref[0].shape
    torch.testing.assert_close(ours[0], ref[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours[1], ref[1], atol=1e-5, rtol=1e-5)


@pytest.mark.peer
def test_mask_cross_entropy_matches_mmdet(mmdet):
    from mmdet.registry import MODELS as MM

    pred, target = _inputs("mask")
    labels = torch.tensor([0, 2, 1, 2])
    cfg = dict(type="CrossEntropyLoss", use_mask=True, loss_weight=1.0)
    ours = _run(_ours(cfg), pred, target, labels)
    ref = _run(MM.build(cfg), pred, target, labels)
    torch.testing.assert_close(ours[0], ref[0], atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(ours[1], ref[1], atol=1e-6, rtol=1e-6)


@pytest.mark.peer
@pytest.mark.parametrize("momentum", [0, 0.75])
@pytest.mark.parametrize("onehot", [False, True])
def test_ghmc_matches_mmdet_over_two_calls(mmdet, momentum, onehot):
    from mmdet.registry import MODELS as MM

    cfg = dict(type="GHMC", bins=10, momentum=momentum, use_sigmoid=True, loss_weight=1.0)
    ours, ref = _ours(cfg), MM.build(cfg)
    for seed in (0, 1):  # the second call sees the moving averages of the first
        pred, target = _inputs("cls_onehot" if onehot else "cls_index", seed)
        label_weight = (torch.rand(pred.shape[0], generator=torch.Generator().manual_seed(seed)) > 0.2).float()
        if onehot:
            label_weight = label_weight[:, None].expand_as(pred).contiguous()
        a, b = _run(ours, pred, target, label_weight), _run(ref, pred, target, label_weight)
        torch.testing.assert_close(a[0], b[0], atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(a[1], b[1], atol=1e-6, rtol=1e-5)
    assert set(ours.state_dict()) == set(ref.state_dict())
    if momentum:
        torch.testing.assert_close(ours.acc_sum, ref.acc_sum)


@pytest.mark.peer
@pytest.mark.parametrize("momentum", [0, 0.9])
def test_ghmr_matches_mmdet(mmdet, momentum):
    from mmdet.registry import MODELS as MM

    cfg = dict(type="GHMR", mu=0.02, bins=10, momentum=momentum, loss_weight=1.0)
    ours, ref = _ours(cfg), MM.build(cfg)
    for seed in (0, 1):
        pred, target = _inputs("regression", seed)
        pred = pred * 0.05
        label_weight = (torch.rand(pred.shape, generator=torch.Generator().manual_seed(seed)) > 0.3).float()
        a, b = _run(ours, pred, target, label_weight), _run(ref, pred, target, label_weight)
        torch.testing.assert_close(a[0], b[0], atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(a[1], b[1], atol=1e-6, rtol=1e-5)


@pytest.mark.peer
@pytest.mark.parametrize("type_", ["L1Loss", "SmoothL1Loss", "GIoULoss", "DIoULoss", "CIoULoss",
                                   "EIoULoss", "SIoULoss", "IoULoss"])
@pytest.mark.parametrize("reduction_override", [None, "none"])
def test_all_zero_weight_shortcut_matches_mmdet(mmdet, type_, reduction_override):
    """All-zero weights: a zero loss that still reaches pred's graph (same shape as mmdet's)."""
    from mmdet.registry import MODELS as MM

    pred, target = _inputs("boxes")
    weight = torch.zeros(pred.shape[0])
    ours = _run(_ours(dict(type=type_)), pred, target, weight, reduction_override=reduction_override)
    ref = _run(MM.build(dict(type=type_)), pred, target, weight, reduction_override=reduction_override)
    assert ours[0].shape == ref[0].shape
    torch.testing.assert_close(ours[0], ref[0])
    torch.testing.assert_close(ours[1], ref[1])


# ---------------------------------------------------------------------------- references


def test_weighted_loss_documented_example():
    """The values in MMDetection's weighted_loss docstring."""

    @weighted_loss
    def l1(pred, target):
        return (pred - target).abs()

    pred, target = torch.tensor([0.0, 2.0, 3.0]), torch.tensor([1.0, 1.0, 1.0])
    weight = torch.tensor([1.0, 0.0, 1.0])
    torch.testing.assert_close(l1(pred, target), torch.tensor(4.0 / 3))
    torch.testing.assert_close(l1(pred, target, weight), torch.tensor(1.0))
    torch.testing.assert_close(l1(pred, target, reduction="none"), torch.tensor([1.0, 1.0, 2.0]))
    torch.testing.assert_close(l1(pred, target, weight, avg_factor=2), torch.tensor(1.5))


def test_avg_factor_rules_hand_computed():
    loss = torch.tensor([1.0, 2.0, 3.0])
    torch.testing.assert_close(weight_reduce_loss(loss, avg_factor=4), torch.tensor(1.5))
    torch.testing.assert_close(weight_reduce_loss(loss, reduction="none", avg_factor=4), loss)
    with pytest.raises(ValueError, match="avg_factor can only be used with reduction 'mean' or 'none'"):
        weight_reduce_loss(loss, reduction="sum", avg_factor=4)
    with pytest.raises(ValueError, match="reduction must be one of"):
        weight_reduce_loss(loss, reduction="max")


def test_bad_reduction_override_is_named():
    pred, target = _inputs("regression")
    with pytest.raises(ValueError, match="reduction_override must be None or one of"):
        L.L1Loss()(pred, target, reduction_override="avg")


def test_cross_entropy_matches_torch():
    pred, label = _inputs("cls_softmax")
    torch.testing.assert_close(L.CrossEntropyLoss()(pred, label), F.cross_entropy(pred, label))
    ce = L.CrossEntropyLoss(ignore_index=1, avg_non_ignore=True)
    torch.testing.assert_close(ce(pred, label), F.cross_entropy(pred, label, ignore_index=1))
    onehot = F.one_hot(label, 5).float()
    torch.testing.assert_close(L.CrossEntropyLoss(use_sigmoid=True)(pred, label),
                               F.binary_cross_entropy_with_logits(pred, onehot))


def test_cross_entropy_ignore_index_warns():
    with pytest.warns(UserWarning, match="avg_non_ignore=True"):
        L.CrossEntropyLoss(ignore_index=255)


def test_focal_loss_matches_torchvision():
    """torchvision.ops.sigmoid_focal_loss on one-hot targets; the fused (class-index) path and
    the one-hot path of FocalLoss must both give it."""
    pred, labels = _inputs("cls_index")
    onehot = F.one_hot(labels, 6)[:, :5].float()
    ref = torchvision.ops.sigmoid_focal_loss(pred, onehot, alpha=0.25, gamma=2.0, reduction="sum")
    focal = L.FocalLoss(reduction="sum")
    torch.testing.assert_close(focal(pred, labels), ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(focal(pred, onehot), ref, atol=1e-5, rtol=1e-5)


def test_focal_loss_without_detops_gives_same_numbers(monkeypatch):
    import detmodels.losses.focal_loss as focal_module

    pred, labels = _inputs("cls_index")
    fused = L.FocalLoss()(pred, labels, avg_factor=3.0)
    monkeypatch.setattr(focal_module, "_fused_sigmoid_focal_loss", None)
    torch.testing.assert_close(L.FocalLoss()(pred, labels, avg_factor=3.0), fused,
                               atol=1e-6, rtol=1e-6)


def test_smooth_l1_and_l1_match_torch():
    pred, target = _inputs("regression")
    torch.testing.assert_close(L.SmoothL1Loss(beta=0.5)(pred, target),
                               F.smooth_l1_loss(pred, target, beta=0.5))
    torch.testing.assert_close(L.L1Loss(reduction="sum")(pred, target),
                               F.l1_loss(pred, target, reduction="sum"))


@pytest.mark.parametrize("ours,reference", [
    (L.GIoULoss(eps=1e-7), torchvision.ops.generalized_box_iou_loss),
    (L.DIoULoss(eps=1e-7), torchvision.ops.distance_box_iou_loss),
])
def test_box_losses_match_torchvision(ours, reference):
    pred, target = _inputs("boxes")
    torch.testing.assert_close(ours(pred, target, reduction_override="none"),
                               reference(pred, target, reduction="none", eps=1e-7),
                               atol=1e-5, rtol=1e-5)


def test_iou_losses_hand_computed():
    """A 10x10 prediction against a 10x20 target sharing its top half: IoU = 0.5."""
    pred = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    target = torch.tensor([[0.0, 0.0, 10.0, 20.0]])
    torch.testing.assert_close(L.IoULoss()(pred, target), torch.tensor(math.log(2.0)))
    torch.testing.assert_close(L.IoULoss(mode="linear")(pred, target), torch.tensor(0.5))
    torch.testing.assert_close(L.IoULoss(mode="square")(pred, target), torch.tensor(0.75))
    torch.testing.assert_close(L.GIoULoss()(pred, target), torch.tensor(0.5))  # enclosure = union
    # DIoU: centres 5 apart vertically, enclosing diagonal^2 = 10^2 + 20^2
    torch.testing.assert_close(L.DIoULoss()(pred, target), torch.tensor(0.5 + 25 / 500), atol=1e-6, rtol=0)


def test_dfl_hand_computed():
    """Target 1.25 between bins 1 and 2: 0.75 * CE(bin 1) + 0.25 * CE(bin 2)."""
    logits = torch.tensor([[0.0, 1.0, 2.0]])
    log_p = logits.log_softmax(-1)
    expected = -(0.75 * log_p[0, 1] + 0.25 * log_p[0, 2])
    torch.testing.assert_close(L.DistributionFocalLoss()(logits, torch.tensor([1.25])), expected)


def test_dice_loss_hand_computed():
    pred = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
    target = torch.tensor([[1.0, 0.0, 1.0, 0.0]])
    loss = L.DiceLoss(activate=False, naive_dice=True, eps=0.0)(pred, target)
    torch.testing.assert_close(loss, torch.tensor(0.5))  # 2 * 1 / (2 + 2)


def test_accuracy_hand_computed():
    pred = torch.tensor([[0.1, 0.9, 0.0], [0.8, 0.1, 0.1], [0.3, 0.3, 0.4], [0.2, 0.5, 0.3]])
    target = torch.tensor([1, 2, 2, 2])
    top1, top2 = L.accuracy(pred, target, topk=(1, 2))
    torch.testing.assert_close(top1, torch.tensor([50.0]))
    torch.testing.assert_close(top2, torch.tensor([75.0]))
    torch.testing.assert_close(L.accuracy(pred, target, thresh=0.5), torch.tensor([25.0]))
    with pytest.raises(ValueError, match="topk 4 exceeds the 3 classes"):
        L.accuracy(pred, target, topk=4)


def test_argument_errors_name_the_problem():
    with pytest.raises(ValueError, match="use_sigmoid and use_mask cannot both be True"):
        L.CrossEntropyLoss(use_sigmoid=True, use_mask=True)
    with pytest.raises(ValueError, match="FocalLoss only supports use_sigmoid=True"):
        L.FocalLoss(use_sigmoid=False)
    with pytest.raises(ValueError, match="mode must be one of"):
        L.IoULoss(mode="cube")
    pred, target = _inputs("boxes")
    with pytest.raises(ValueError, match="a 2-D weight must have the shape of pred"):
        L.GIoULoss()(pred, target, torch.ones(pred.shape[0], 2))
    with pytest.raises(ValueError, match="target of QualityFocalLoss must be a tensor or a pair"):
        L.QualityFocalLoss()(pred, (target,))
