"""Assigners: the seeds' documented examples, hand-computed cases and MMDetection 3.3.0 parity
(identical gt_inds, labels and max_overlaps; ignore boxes, empty gts, empty priors)."""

import pytest
import torch

from detcore.registry import TASK_UTILS
from detcore.structures import InstanceData
from detmodels.task_modules import assigners as A
from detmodels.task_modules.prior_generators import AnchorGenerator, MlvlPointGenerator

#: components the assigners build by name (registered here until detmodels' plugin lists them)
_BUILT_BY_NAME = [A.BboxOverlaps2D, A.ClassificationCost, A.FocalLossCost, A.BBoxL1Cost, A.IoUCost,
                  A.DiceCost, A.CrossEntropyLossCost]


@pytest.fixture(scope="module", autouse=True)
def _registered():
    for cls in _BUILT_BY_NAME:
        if cls.__name__ not in TASK_UTILS:
            TASK_UTILS.register_module(module=cls)


def _gts(n, seed, num_classes=4, scale=120.0):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * scale
    wh = torch.rand(n, 2, generator=g) * 60 + 8
    return InstanceData(bboxes=torch.cat([xy, xy + wh], 1),
                        labels=torch.randint(0, num_classes, (n,), generator=g))


def _anchors():
    """RetinaNet-like anchors on a 160 x 160 image: (num_priors, 4) and per-level counts."""
    gen = AnchorGenerator(strides=[8, 16, 32], ratios=[0.5, 1.0, 2.0], octave_base_scale=4,
                          scales_per_octave=3)
    levels = gen.grid_priors([(20, 20), (10, 10), (5, 5)], device="cpu")
    return torch.cat(levels), [len(level) for level in levels]


def _points():
    gen = MlvlPointGenerator([8, 16, 32], offset=0)
    return torch.cat(gen.grid_priors([(20, 20), (10, 10), (5, 5)], device="cpu", with_stride=True))


def _assert_same(ours, ref):
    assert ours.num_gts == ref.num_gts
    assert torch.equal(ours.gt_inds, ref.gt_inds)
    assert torch.equal(ours.labels, ref.labels)
    if ref.max_overlaps is None:
        assert ours.max_overlaps is None
    else:
        torch.testing.assert_close(ours.max_overlaps, ref.max_overlaps, atol=1e-6, rtol=0)


def _mm_instances(inst):
    """The same fields in an mmengine InstanceData."""
    from mmengine.structures import InstanceData as MMInstanceData

    return None if inst is None else MMInstanceData(**{k: v for k, v in inst.items()})


def _build_both(cfg):
    from mmdet.registry import TASK_UTILS as MM

    return getattr(A, cfg["type"])(**{k: v for k, v in cfg.items() if k != "type"}), MM.build(dict(cfg))


# ---------------------------------------------------------------------------- documented / by hand


def test_max_iou_assigner_documented_example():
    """mmdet.core.bbox.MaxIoUAssigner docstring."""
    assigner = A.MaxIoUAssigner(0.5, 0.5)
    result = assigner.assign(InstanceData(priors=torch.Tensor([[0, 0, 10, 10], [10, 10, 20, 20]])),
                             InstanceData(bboxes=torch.Tensor([[0, 0, 10, 9]]), labels=torch.tensor([3])))
    assert torch.equal(result.gt_inds, torch.LongTensor([1, 0]))
    assert torch.equal(result.labels, torch.LongTensor([3, -1]))
    torch.testing.assert_close(result.max_overlaps, torch.tensor([0.9, 0.0]))


def test_assign_result_documented_example():
    result = A.AssignResult(9, torch.LongTensor([-1, 1, 2, 0]), torch.FloatTensor([0, 0.5, 0.9, 0]),
                            torch.LongTensor([0, 3, 4, 0]))
    assert repr(result) == ("<AssignResult(num_gts=9, gt_inds.shape=(4,), max_overlaps.shape=(4,), "
                            "labels.shape=(4,))>")
    result.add_gt_(torch.LongTensor([3, 4, 5]))
    assert result.num_preds == 7
    assert torch.equal(result.gt_inds, torch.LongTensor([1, 2, 3, -1, 1, 2, 0]))
    torch.testing.assert_close(result.max_overlaps, torch.tensor([1, 1, 1, 0, 0.5, 0.9, 0]))
    with pytest.raises(KeyError, match="already has a property named 'labels'"):
        result.set_extra_property("labels", 1)


def test_max_iou_low_quality_match_and_ignore_by_hand():
    """Gt 0 overlaps prior 0 at IoU 0.25 < pos_iou_thr, so claims it as a low-quality match;
    prior 2 lies inside an ignore box."""
    priors = torch.tensor([[0.0, 0, 10, 10], [30, 30, 40, 40], [100, 100, 110, 110]])
    gts = InstanceData(bboxes=torch.tensor([[0.0, 0, 10, 2.5]]), labels=torch.tensor([1]))
    ignore = InstanceData(bboxes=torch.tensor([[95.0, 95, 120, 120]]))
    result = A.MaxIoUAssigner(0.5, 0.4, min_pos_iou=0.2, ignore_iof_thr=0.5).assign(
        InstanceData(priors=priors), gts, ignore)
    assert result.gt_inds.tolist() == [1, 0, -1]
    assert result.labels.tolist() == [1, -1, -1]
    torch.testing.assert_close(result.max_overlaps, torch.tensor([0.25, 0.0, -1.0]))


def test_hungarian_assigner_by_hand():
    """Two predictions, two gts: the L1-optimal pairing is the crossed one."""
    assigner = A.HungarianAssigner([dict(type="BBoxL1Cost", weight=1.0)])
    preds = InstanceData(bboxes=torch.tensor([[50.0, 50, 60, 60], [0, 0, 10, 10], [20, 20, 21, 21]]),
                         scores=torch.zeros(3, 2))
    gts = InstanceData(bboxes=torch.tensor([[1.0, 1, 11, 11], [49, 49, 61, 61]]), labels=torch.tensor([1, 0]))
    result = assigner.assign(preds, gts, img_meta=dict(img_shape=(100, 100)))
    assert result.gt_inds.tolist() == [2, 1, 0]
    assert result.labels.tolist() == [0, 1, -1]
    assert result.max_overlaps is None


# ---------------------------------------------------------------------------- parity


MAX_IOU_CASES = [
    dict(type="MaxIoUAssigner", pos_iou_thr=0.5, neg_iou_thr=0.4, min_pos_iou=0, ignore_iof_thr=-1),
    dict(type="MaxIoUAssigner", pos_iou_thr=0.7, neg_iou_thr=0.3, min_pos_iou=0.3, match_low_quality=True,
         ignore_iof_thr=-1),
    dict(type="MaxIoUAssigner", pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0.5, match_low_quality=False,
         ignore_iof_thr=0.5),
    dict(type="MaxIoUAssigner", pos_iou_thr=0.5, neg_iou_thr=(0.1, 0.4), min_pos_iou=0.1,
         gt_max_assign_all=False, ignore_iof_thr=0.3, ignore_wrt_candidates=False),
    dict(type="MaxIoUAssigner", pos_iou_thr=0.6, neg_iou_thr=0.4, gpu_assign_thr=2, ignore_iof_thr=0.4),
]


@pytest.mark.peer
@pytest.mark.parametrize("cfg", MAX_IOU_CASES)
@pytest.mark.parametrize("num_gts", [0, 1, 7])
@pytest.mark.parametrize("with_ignore", [False, True])
def test_max_iou_assigner_matches_mmdet(mmdet, cfg, num_gts, with_ignore):
    ours, ref = _build_both(cfg)
    priors, _ = _anchors()
    preds = InstanceData(priors=priors)
    gts = _gts(num_gts, seed=num_gts)
    ignore = InstanceData(bboxes=_gts(2, seed=99).bboxes) if with_ignore else None
    _assert_same(ours.assign(preds, gts, ignore),
                 ref.assign(_mm_instances(preds), _mm_instances(gts), _mm_instances(ignore)))


@pytest.mark.peer
def test_max_iou_assigner_low_quality_ties_match_mmdet(mmdet):
    """Duplicate gts and priors tying for a gt's best IoU: gt_max_assign_all and "last gt wins"."""
    priors = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 10], [5, 5, 15, 15], [40, 40, 50, 50]])
    gts = InstanceData(bboxes=torch.tensor([[0.0, 0, 10, 20], [0, 0, 10, 20], [60, 60, 70, 70]]),
                       labels=torch.tensor([0, 1, 2]))
    for assign_all in (True, False):
        cfg = dict(type="MaxIoUAssigner", pos_iou_thr=0.7, neg_iou_thr=0.3, gt_max_assign_all=assign_all)
        ours, ref = _build_both(cfg)
        _assert_same(ours.assign(InstanceData(priors=priors), gts),
                     ref.assign(_mm_instances(InstanceData(priors=priors)), _mm_instances(gts)))


@pytest.mark.peer
@pytest.mark.parametrize("num_gts", [0, 1, 6])
@pytest.mark.parametrize("with_ignore", [False, True])
@pytest.mark.parametrize("alpha", [None, 0.8])
def test_atss_assigner_matches_mmdet(mmdet, num_gts, with_ignore, alpha):
    cfg = dict(type="ATSSAssigner", topk=9, alpha=alpha, ignore_iof_thr=0.5 if with_ignore else -1)
    ours, ref = _build_both(cfg)
    priors, num_level_priors = _anchors()
    preds = InstanceData(priors=priors)
    if alpha is not None:
        g = torch.Generator().manual_seed(3)
        preds.scores = torch.randn(len(priors), 4, generator=g)
        preds.bboxes = priors + torch.randn(len(priors), 4, generator=g) * 3
    gts = _gts(num_gts, seed=10 + num_gts)
    ignore = InstanceData(bboxes=_gts(2, seed=98).bboxes) if with_ignore else None
    _assert_same(ours.assign(preds, num_level_priors, gts, ignore),
                 ref.assign(_mm_instances(preds), num_level_priors, _mm_instances(gts), _mm_instances(ignore)))


@pytest.mark.peer
def test_atss_assigner_empty_priors_matches_mmdet(mmdet):
    ours, ref = _build_both(dict(type="ATSSAssigner", topk=9))
    preds, gts = InstanceData(priors=torch.zeros(0, 4)), _gts(3, seed=1)
    _assert_same(ours.assign(preds, [0], gts), ref.assign(_mm_instances(preds), [0], _mm_instances(gts)))


@pytest.mark.peer
@pytest.mark.parametrize("cfg", [MAX_IOU_CASES[2], dict(type="TaskAlignedAssigner", topk=13),
                                 dict(type="SimOTAAssigner")])
def test_assigners_with_no_priors_match_mmdet(mmdet, cfg):
    ours, ref = _build_both(cfg)
    preds = InstanceData(priors=torch.zeros(0, 4), scores=torch.zeros(0, 4), bboxes=torch.zeros(0, 4))
    gts = _gts(3, seed=2)
    ignore = InstanceData(bboxes=_gts(1, seed=3).bboxes)
    a = ours.assign(preds, gts, ignore)
    _assert_same(a, ref.assign(_mm_instances(preds), _mm_instances(gts), _mm_instances(ignore)))
    assert a.gt_inds.shape == (0,) and a.num_gts == 3


def _dense_predictions(priors, seed, num_classes=4, point_priors=False):
    """Scores (probabilities) and decoded boxes near the priors."""
    g = torch.Generator().manual_seed(seed)
    if point_priors:
        centers, size = priors[:, :2], priors[:, 2:] * 4
        boxes = torch.cat([centers - size / 2, centers + size / 2], 1)
    else:
        boxes = priors.clone()
    boxes = boxes + torch.randn(boxes.shape, generator=g) * 2
    boxes[:, 2:] = torch.maximum(boxes[:, 2:], boxes[:, :2] + 1)
    return torch.rand(len(priors), num_classes, generator=g), boxes


@pytest.mark.peer
@pytest.mark.parametrize("num_gts", [0, 1, 5])
@pytest.mark.parametrize("topk,alpha,beta", [(13, 1, 6), (5, 0.5, 2)])
def test_task_aligned_assigner_matches_mmdet(mmdet, num_gts, topk, alpha, beta):
    ours, ref = _build_both(dict(type="TaskAlignedAssigner", topk=topk))
    priors, _ = _anchors()
    scores, boxes = _dense_predictions(priors, seed=num_gts)
    preds = InstanceData(priors=priors, scores=scores, bboxes=boxes)
    gts = _gts(num_gts, seed=20 + num_gts)
    a = ours.assign(preds, gts, alpha=alpha, beta=beta)
    b = ref.assign(_mm_instances(preds), _mm_instances(gts), alpha=alpha, beta=beta)
    _assert_same(a, b)
    torch.testing.assert_close(a.assign_metrics, b.assign_metrics, atol=1e-7, rtol=1e-6)


@pytest.mark.peer
@pytest.mark.parametrize("num_gts", [0, 1, 4, 9])
@pytest.mark.parametrize("cfg", [dict(type="SimOTAAssigner", center_radius=2.5, candidate_topk=10),
                                 dict(type="SimOTAAssigner", center_radius=1.0, candidate_topk=3,
                                      iou_weight=1.0, cls_weight=2.0)])
def test_sim_ota_assigner_matches_mmdet(mmdet, cfg, num_gts):
    ours, ref = _build_both(cfg)
    priors = _points()
    scores, boxes = _dense_predictions(priors, seed=30 + num_gts, point_priors=True)
    preds = InstanceData(priors=priors, scores=scores, bboxes=boxes)
    gts = _gts(num_gts, seed=40 + num_gts)
    _assert_same(ours.assign(preds, gts), ref.assign(_mm_instances(preds), _mm_instances(gts)))


@pytest.mark.peer
def test_sim_ota_assigner_no_candidates_matches_mmdet(mmdet):
    """A gt far from every prior: no valid candidate at all."""
    ours, ref = _build_both(dict(type="SimOTAAssigner"))
    priors = _points()[:10]
    scores, boxes = _dense_predictions(priors, seed=1, point_priors=True)
    preds = InstanceData(priors=priors, scores=scores, bboxes=boxes)
    gts = InstanceData(bboxes=torch.tensor([[900.0, 900, 950, 950]]), labels=torch.tensor([1]))
    _assert_same(ours.assign(preds, gts), ref.assign(_mm_instances(preds), _mm_instances(gts)))


HUNGARIAN_COSTS = [
    [dict(type="FocalLossCost", weight=2.0), dict(type="BBoxL1Cost", weight=5.0, box_format="xywh"),
     dict(type="IoUCost", iou_mode="giou", weight=2.0)],
    [dict(type="ClassificationCost", weight=1.0), dict(type="BBoxL1Cost", weight=5.0),
     dict(type="IoUCost", iou_mode="iou", weight=2.0)],
    dict(type="FocalLossCost", alpha=0.3, gamma=1.5, weight=1.0),
]


@pytest.mark.peer
@pytest.mark.parametrize("match_costs", HUNGARIAN_COSTS)
@pytest.mark.parametrize("num_gts,num_preds", [(0, 10), (3, 0), (4, 10), (12, 10)])
def test_hungarian_assigner_matches_mmdet(mmdet, match_costs, num_gts, num_preds):
    ours, ref = _build_both(dict(type="HungarianAssigner", match_costs=match_costs))
    g = torch.Generator().manual_seed(num_gts * 100 + num_preds)
    gts = _gts(num_gts, seed=50 + num_gts)
    boxes = _gts(num_preds, seed=60 + num_preds).bboxes
    preds = InstanceData(scores=torch.randn(num_preds, 4, generator=g), bboxes=boxes)
    meta = dict(img_shape=(200, 180))
    _assert_same(ours.assign(preds, gts, img_meta=meta),
                 ref.assign(_mm_instances(preds), _mm_instances(gts), img_meta=meta))


@pytest.mark.peer
@pytest.mark.parametrize("cfg", [dict(type="FocalLossCost", binary_input=True, weight=2.0),
                                 dict(type="DiceCost", pred_act=True, eps=1.0, weight=5.0),
                                 dict(type="DiceCost", naive_dice=False),
                                 dict(type="CrossEntropyLossCost", use_sigmoid=True, weight=5.0)])
def test_mask_match_costs_match_mmdet(mmdet, cfg):
    ours, ref = _build_both(cfg)
    g = torch.Generator().manual_seed(0)
    preds = InstanceData(masks=torch.randn(6, 8, 8, generator=g))
    gts = InstanceData(masks=torch.rand(3, 8, 8, generator=g) > 0.5, labels=torch.tensor([0, 1, 2]))
    torch.testing.assert_close(ours(preds, gts), ref(_mm_instances(preds), _mm_instances(gts)),
                               atol=1e-5, rtol=1e-5)


@pytest.mark.peer
@pytest.mark.parametrize("mode", ["iou", "iof", "giou"])
@pytest.mark.parametrize("is_aligned", [False, True])
def test_bbox_overlaps_2d_matches_mmdet(mmdet, mode, is_aligned):
    ours, ref = _build_both(dict(type="BboxOverlaps2D"))
    boxes1 = _gts(6, seed=1).bboxes
    boxes2 = torch.cat([_gts(6, seed=2).bboxes, torch.rand(6, 1)], 1)  # a score column is dropped
    torch.testing.assert_close(ours(boxes1, boxes2, mode, is_aligned), ref(boxes1, boxes2, mode, is_aligned))
    half = A.BboxOverlaps2D(scale=8.0, dtype="fp16")(boxes1, boxes2, mode, is_aligned)
    assert half.dtype == torch.float32
    torch.testing.assert_close(half, ours(boxes1, boxes2, mode, is_aligned), atol=2e-3, rtol=0)


def test_assigner_errors_name_the_problem():
    priors, num_level_priors = _anchors()
    with pytest.raises(ValueError, match=r"num_level_priors \[400\] sums to 400, but there are"):
        A.ATSSAssigner(topk=9).assign(InstanceData(priors=priors), [400], _gts(2, 0))
    with pytest.raises(ValueError, match="ATSSAssigner with alpha set needs pred_instances.scores"):
        A.ATSSAssigner(topk=9, alpha=0.5).assign(InstanceData(priors=priors), num_level_priors, _gts(2, 0))
    with pytest.raises(ValueError, match="BboxOverlaps2D: bboxes1 must have 4"):
        A.BboxOverlaps2D()(torch.zeros(3, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="match_costs must not be empty"):
        A.HungarianAssigner([])
    with pytest.raises(ValueError, match="BBoxL1Cost needs img_meta with 'img_shape'"):
        A.BBoxL1Cost()(InstanceData(bboxes=torch.zeros(1, 4)), InstanceData(bboxes=torch.zeros(1, 4)))
    with pytest.raises(ValueError, match="topk must be >= 1"):
        A.TaskAlignedAssigner(topk=0)
