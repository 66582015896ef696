"""Samplers and the heads' shared helpers: MMDetection 3.3.0 parity (PseudoSampler exactly,
RandomSampler under the same torch seed, OHEMSampler with the same scoring head), the
sampling invariants, and hand-computed helper results."""

import pytest
import torch
import torch.nn.functional as F

from detcore.registry import TASK_UTILS
from detcore.structures import HorizontalBoxes, InstanceData
from detmodels.task_modules import (
    AssignResult,
    BboxOverlaps2D,
    MaxIoUAssigner,
    OHEMSampler,
    PseudoSampler,
    RandomSampler,
    SamplingResult,
    filter_scores_and_topk,
    images_to_levels,
    multi_apply,
    select_single_mlvl,
    unmap,
)


@pytest.fixture(scope="module", autouse=True)
def _registered():
    if "BboxOverlaps2D" not in TASK_UTILS:  # until detmodels' plugin lists it
        TASK_UTILS.register_module(module=BboxOverlaps2D)


def _scene(num_gts=3, num_priors=200, seed=0):
    """Random proposals around random gts, with a MaxIoU assignment (positives, negatives and
    ignored ones)."""
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(num_gts, 2, generator=g) * 100
    gt_bboxes = torch.cat([xy, xy + torch.rand(num_gts, 2, generator=g) * 40 + 10], 1)
    centers = gt_bboxes[torch.randint(0, max(num_gts, 1), (num_priors,), generator=g)] if num_gts else \
        torch.rand(num_priors, 4, generator=g) * 100
    priors = centers + torch.randn(num_priors, 4, generator=g) * 12
    priors[:, 2:] = torch.maximum(priors[:, 2:], priors[:, :2] + 2)
    gts = InstanceData(bboxes=gt_bboxes, labels=torch.randint(0, 5, (num_gts,), generator=g))
    preds = InstanceData(priors=priors)
    assign = MaxIoUAssigner(pos_iou_thr=0.5, neg_iou_thr=0.3, min_pos_iou=0.3).assign(preds, gts)
    return assign, preds, gts


def _copy(assign):
    return AssignResult(assign.num_gts, assign.gt_inds.clone(), assign.max_overlaps.clone(),
                        assign.labels.clone())


def _mm_pair(assign, preds, gts):
    from mmdet.models.task_modules.assigners import AssignResult as MMAssignResult
    from mmengine.structures import InstanceData as MMInstanceData

    return (MMAssignResult(assign.num_gts, assign.gt_inds.clone(), assign.max_overlaps.clone(),
                           assign.labels.clone()),
            MMInstanceData(**dict(preds.items())), MMInstanceData(**dict(gts.items())))


def _assert_same_sampling(ours, ref):
    for name in ("pos_inds", "neg_inds", "pos_priors", "neg_priors", "pos_is_gt", "pos_assigned_gt_inds",
                 "pos_gt_bboxes", "pos_gt_labels"):
        assert torch.equal(getattr(ours, name), getattr(ref, name)), name
    for name in ("num_pos", "num_neg", "avg_factor", "num_gts"):
        assert getattr(ours, name) == getattr(ref, name), name


@pytest.mark.peer
@pytest.mark.parametrize("num_gts", [0, 1, 4])
def test_pseudo_sampler_matches_mmdet(mmdet, num_gts):
    from mmdet.models.task_modules.samplers import PseudoSampler as MMPseudoSampler

    assign, preds, gts = _scene(num_gts)
    ours = PseudoSampler().sample(_copy(assign), preds, gts)
    ref = MMPseudoSampler().sample(*_mm_pair(assign, preds, gts))
    _assert_same_sampling(ours, ref)
    assert ours.avg_factor == ours.num_pos  # positives only


@pytest.mark.peer
@pytest.mark.parametrize("cfg", [dict(num=64, pos_fraction=0.25),
                                 dict(num=32, pos_fraction=0.5, neg_pos_ub=2),
                                 dict(num=512, pos_fraction=0.25, add_gt_as_proposals=False),
                                 dict(num=8, pos_fraction=0.5, neg_pos_ub=0)])
@pytest.mark.parametrize("num_gts", [0, 3])
def test_random_sampler_matches_mmdet_under_the_same_seed(mmdet, cfg, num_gts):
    from mmdet.models.task_modules.samplers import RandomSampler as MMRandomSampler

    assign, preds, gts = _scene(num_gts)
    torch.manual_seed(123)
    ours = RandomSampler(**cfg).sample(_copy(assign), preds, gts)
    torch.manual_seed(123)
    ref = MMRandomSampler(**cfg).sample(*_mm_pair(assign, preds, gts))
    _assert_same_sampling(ours, ref)


@pytest.mark.parametrize("seed", range(4))
def test_random_sampler_invariants(seed):
    assign, preds, gts = _scene(num_gts=3, num_priors=300, seed=seed)
    num_gts = len(gts)
    torch.manual_seed(seed)
    sampler = RandomSampler(num=40, pos_fraction=0.25, neg_pos_ub=3)
    result = sampler.sample(_copy(assign), preds, gts)
    gt_inds = torch.cat([torch.arange(1, num_gts + 1), assign.gt_inds])  # gts prepended
    assert result.pos_inds.numel() <= 10 and result.neg_inds.numel() <= 3 * max(1, result.pos_inds.numel())
    assert result.pos_inds.numel() + result.neg_inds.numel() <= 40
    assert (gt_inds[result.pos_inds] > 0).all() and (gt_inds[result.neg_inds] == 0).all()
    assert len(result.pos_inds.unique()) == len(result.pos_inds)
    torch.testing.assert_close(result.pos_gt_bboxes, gts.bboxes[gt_inds[result.pos_inds] - 1])
    assert torch.equal(result.pos_is_gt.bool(), result.pos_inds < num_gts)
    assert (assign.gt_inds == 0).sum() > 30  # enough negatives to be sampled from


class _ScoringHead:
    """A deterministic stand-in for an RoI head: scores are a fixed function of the RoI box,
    the loss is per-RoI cross-entropy (what OHEM ranks by)."""

    num_classes = 5

    def __init__(self, cascade=False):
        self.bbox_head = [self] * 2 if cascade else self
        if cascade:
            self.num_stages, self.current_stage = 2, 1

    def _bbox_forward(self, *args):
        rois = args[-1]
        boxes = rois[:, 1:]
        weights = torch.linspace(-0.05, 0.05, 4 * (self.num_classes + 1)).view(4, -1)
        return {"cls_score": torch.sin(boxes @ weights)}

    def loss(self, cls_score, bbox_pred, rois, labels, label_weights, bbox_targets, bbox_weights,
             reduction_override=None):
        return {"loss_cls": F.cross_entropy(cls_score, labels, reduction=reduction_override)}


@pytest.mark.peer
@pytest.mark.parametrize("cascade", [False, True])
def test_ohem_sampler_matches_mmdet(mmdet, cascade):
    from mmdet.models.task_modules.samplers import OHEMSampler as MMOHEMSampler

    assign, preds, gts = _scene(num_gts=3, num_priors=300, seed=5)
    context = _ScoringHead(cascade)
    cfg = dict(num=32, pos_fraction=0.25, context=context, neg_pos_ub=-1)
    ours = OHEMSampler(**cfg).sample(_copy(assign), preds, gts, feats=None)
    ref = MMOHEMSampler(**cfg).sample(*_mm_pair(assign, preds, gts), feats=None)
    _assert_same_sampling(ours, ref)
    assert ours.pos_inds.numel() == 8 and ours.neg_inds.numel() == 24


def test_ohem_sampler_keeps_the_hardest_negatives():
    assign, preds, gts = _scene(num_gts=2, num_priors=100, seed=6)
    head = _ScoringHead()
    result = OHEMSampler(num=10, pos_fraction=0.0, context=head, add_gt_as_proposals=False).sample(
        _copy(assign), preds, gts)
    negatives = torch.nonzero(assign.gt_inds == 0).squeeze(1)
    scores = head._bbox_forward(torch.cat([torch.zeros(len(negatives), 1), preds.priors[negatives]], 1))["cls_score"]
    losses = F.cross_entropy(scores, torch.full((len(negatives),), 5), reduction="none")
    expected = negatives[losses.topk(10).indices].sort().values
    assert torch.equal(result.neg_inds, expected)


def test_sampling_result_with_box_type_and_to():
    assign, preds, gts = _scene()
    boxed_preds = InstanceData(priors=HorizontalBoxes(preds.priors))
    boxed_gts = InstanceData(bboxes=HorizontalBoxes(gts.bboxes), labels=gts.labels)
    torch.manual_seed(0)
    result = RandomSampler(num=16, pos_fraction=0.5).sample(_copy(assign), boxed_preds, boxed_gts)
    assert isinstance(result, SamplingResult) and isinstance(result.priors, HorizontalBoxes)
    assert len(result.priors) == result.pos_inds.numel() + result.neg_inds.numel()
    assert result.to("cpu") is result
    assert "'num_pos'" in repr(result)


# ---------------------------------------------------------------------------- head helpers


def test_multi_apply_regroups_outputs():
    sums, products = multi_apply(lambda a, b, scale: (scale * (a + b), a * b), [1, 2], [3, 4], scale=10)
    assert sums == [40, 60] and products == [3, 8]


def test_unmap_hand_computed():
    inside = torch.tensor([True, False, True, False])
    torch.testing.assert_close(unmap(torch.tensor([5.0, 7.0]), 4, inside), torch.tensor([5.0, 0, 7, 0]))
    torch.testing.assert_close(unmap(torch.ones(2, 2), 4, inside, fill=-1),
                               torch.tensor([[1.0, 1], [-1, -1], [1, 1], [-1, -1]]))


def test_images_to_levels_hand_computed():
    per_image = [torch.arange(5), torch.arange(5, 10)]
    levels = images_to_levels(per_image, [2, 3])
    assert [level.tolist() for level in levels] == [[[0, 1], [5, 6]], [[2, 3, 4], [7, 8, 9]]]


def test_select_single_mlvl_detaches():
    levels = [torch.randn(2, 3, 4, 4, requires_grad=True), torch.randn(2, 3, 2, 2, requires_grad=True)]
    selected = select_single_mlvl(levels, 1)
    assert [s.shape for s in selected] == [(3, 4, 4), (3, 2, 2)]
    assert not any(s.requires_grad for s in selected)
    assert all(s.requires_grad for s in select_single_mlvl(levels, 1, detach=False))
    with pytest.raises(TypeError, match="must be a list or tuple"):
        select_single_mlvl(levels[0], 0)


def test_filter_scores_and_topk_hand_computed():
    scores = torch.tensor([[0.1, 0.9], [0.6, 0.05], [0.3, 0.7]])
    boxes = torch.arange(12.0).view(3, 4)
    kept, labels, idxs, results = filter_scores_and_topk(scores, 0.2, 2, dict(bboxes=boxes))
    torch.testing.assert_close(kept, torch.tensor([0.9, 0.7]))
    assert labels.tolist() == [1, 1] and idxs.tolist() == [0, 2]
    torch.testing.assert_close(results["bboxes"], boxes[[0, 2]])
    with pytest.raises(TypeError, match="results must be a dict, list or Tensor"):
        filter_scores_and_topk(scores, 0.2, 2, (boxes,))


@pytest.mark.peer
def test_head_helpers_match_mmdet(mmdet):
    from mmdet.models import utils as mm

    g = torch.Generator().manual_seed(0)
    scores = torch.rand(50, 6, generator=g)
    extra = [torch.randn(50, 4, generator=g)]
    ours, ref = filter_scores_and_topk(scores, 0.3, 20, extra), mm.filter_scores_and_topk(scores, 0.3, 20, extra)
    for a, b in zip(ours[:3], ref[:3]):
        assert torch.equal(a, b)
    assert torch.equal(ours[3][0], ref[3][0])
    per_image = [torch.randn(30, 4, generator=g) for _ in range(3)]
    for a, b in zip(images_to_levels(per_image, [20, 8, 2]), mm.images_to_levels(per_image, [20, 8, 2])):
        assert torch.equal(a, b)
    inside = torch.rand(40, generator=g) > 0.5
    data = torch.randn(int(inside.sum()), 4, generator=g)
    assert torch.equal(unmap(data, 40, inside, fill=3), mm.unmap(data, 40, inside, fill=3))
