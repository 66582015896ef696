"""Dense heads on their own: MMDetection 3.3.0 parity of RPNHead and SSDHead (forward,
loss and predict with the same weights, features and gt), and the post-processing rules
checked by hand (NMS config, rescale, min_bbox_size, errors)."""

from __future__ import annotations

import copy

import pytest
import torch

from detcore.registry import MODELS
from detcore.structures import DetDataSample, InstanceData
from detcore.structures.bbox import HorizontalBoxes
from detmodels.dense_heads import BaseDenseHead, RetinaHead, RPNHead, SSDHead
from detmodels.utils import (
    batched_nms_from_cfg,
    empty_instances,
    samplelist_boxtype2tensor,
    unpack_gt_instances,
)

RPN_CFG = dict(
    type="RPNHead", in_channels=8, feat_channels=8,
    anchor_generator=dict(type="AnchorGenerator", scales=[8], ratios=[0.5, 1.0, 2.0],
                          strides=[4, 8, 16, 32, 64]),
    bbox_coder=dict(type="DeltaXYWHBBoxCoder", target_means=[0.0, 0.0, 0.0, 0.0],
                    target_stds=[1.0, 1.0, 1.0, 1.0]),
    loss_cls=dict(type="CrossEntropyLoss", use_sigmoid=True, loss_weight=1.0),
    loss_bbox=dict(type="L1Loss", loss_weight=1.0),
    train_cfg=dict(assigner=dict(type="MaxIoUAssigner", pos_iou_thr=0.7, neg_iou_thr=0.3,
                                 min_pos_iou=0.3, match_low_quality=True, ignore_iof_thr=-1),
                   sampler=dict(type="PseudoSampler"), allowed_border=-1, pos_weight=-1),
    test_cfg=dict(nms_pre=1000, max_per_img=1000, nms=dict(type="nms", iou_threshold=0.7),
                  min_bbox_size=0))

SSD_CFG = dict(
    type="SSDHead", in_channels=(8, 8, 8, 8, 8, 8), num_classes=4,
    anchor_generator=dict(type="SSDAnchorGenerator", scale_major=False, input_size=300,
                          basesize_ratio_range=(0.15, 0.9), strides=[8, 16, 32, 64, 100, 300],
                          ratios=[[2], [2, 3], [2, 3], [2, 3], [2], [2]]),
    bbox_coder=dict(type="DeltaXYWHBBoxCoder", target_means=[0.0, 0.0, 0.0, 0.0],
                    target_stds=[0.1, 0.1, 0.2, 0.2]),
    train_cfg=dict(assigner=dict(type="MaxIoUAssigner", pos_iou_thr=0.5, neg_iou_thr=0.5,
                                 min_pos_iou=0.0, ignore_iof_thr=-1, gt_max_assign_all=False),
                   sampler=dict(type="PseudoSampler"), smoothl1_beta=1.0, allowed_border=-1,
                   pos_weight=-1, neg_pos_ratio=3, debug=False),
    test_cfg=dict(nms_pre=1000, nms=dict(type="nms", iou_threshold=0.45), min_bbox_size=0,
                  score_thr=0.0, max_per_img=200))

SSDLITE_CFG = dict(SSD_CFG, use_depthwise=True, stacked_convs=1, feat_channels=8,
                   norm_cfg=dict(type="BN"), act_cfg=dict(type="ReLU6"))


@pytest.fixture(autouse=True, scope="module")
def _register_ours():
    """Until the lead merges h14_registrations.txt into detmodels' plugin."""
    for cls in (RPNHead, SSDHead, RetinaHead):
        MODELS.register_module(module=cls, force=True)


def _samples(sample_cls, instance_cls, metas, gts):
    samples = []
    for meta, (bboxes, labels) in zip(metas, gts):
        sample = sample_cls(metainfo=copy.deepcopy(meta))
        sample.gt_instances = instance_cls(bboxes=bboxes.clone(), labels=labels.clone())
        samples.append(sample)
    return samples


def _flatten(outputs):
    if isinstance(outputs, torch.Tensor):
        return [outputs]
    return [t for item in outputs for t in _flatten(item)]


def _assert_head_matches_mmdet(cfg, feats, metas, gts):
    from mmdet.registry import MODELS as MMDET_MODELS
    from mmdet.structures import DetDataSample as MMDetDataSample
    from mmengine.config import ConfigDict
    from mmengine.structures import InstanceData as MMInstanceData

    torch.manual_seed(0)
    reference = MMDET_MODELS.build(ConfigDict(copy.deepcopy(cfg)))
    reference.init_weights()
    if not hasattr(reference, "loss_cls"):
        # mmdet 3.3.0's SSDHead.predict reads self.loss_cls, which SSDHead never builds
        # (open-mmlab/mmdetection#11305, #11780); ours does not need it
        reference.loss_cls = torch.nn.Identity()
    ours = MODELS.build(copy.deepcopy(cfg))
    ours.load_state_dict(reference.state_dict(), strict=True)

    for ref, our in zip(_flatten(reference(feats)), _flatten(ours(feats))):
        torch.testing.assert_close(our, ref, atol=1e-5, rtol=1e-5)

    ref_losses = reference.loss(feats, _samples(MMDetDataSample, MMInstanceData, metas, gts))
    our_losses = ours.loss(feats, _samples(DetDataSample, InstanceData, metas, gts))
    assert set(our_losses) == set(ref_losses)
    for key in ref_losses:
        for ref, our in zip(_flatten(ref_losses[key]), _flatten(our_losses[key])):
            torch.testing.assert_close(our.detach(), ref.detach(), atol=1e-5, rtol=1e-4)

    with torch.no_grad():
        ref_preds = reference.predict(feats, _samples(MMDetDataSample, MMInstanceData, metas, gts),
                                      rescale=True)
        our_preds = ours.predict(feats, _samples(DetDataSample, InstanceData, metas, gts),
                                 rescale=True)
    for ref, our in zip(ref_preds, our_preds):
        assert len(our) == len(ref) > 0
        torch.testing.assert_close(our.labels, ref.labels.long())
        torch.testing.assert_close(our.scores, ref.scores, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(our.bboxes, ref.bboxes, atol=1e-3, rtol=1e-4)
    return ours, our_losses


RPN_METAS = [dict(img_shape=(64, 96), pad_shape=(64, 96), ori_shape=(128, 192),
                  scale_factor=(0.5, 0.5)),
             dict(img_shape=(60, 80), pad_shape=(64, 96), ori_shape=(60, 80),
                  scale_factor=(1.0, 1.0))]
RPN_GTS = [(torch.tensor([[4.0, 6.0, 40.0, 50.0], [50.0, 10.0, 90.0, 30.0]]), torch.tensor([0, 0])),
           (torch.tensor([[10.0, 10.0, 30.0, 58.0]]), torch.tensor([0]))]


@pytest.mark.peer
def test_rpn_head_matches_mmdet(mmdet):
    torch.manual_seed(1)
    feats = [torch.randn(2, 8, 64 // s, 96 // s) for s in (4, 8, 16, 32, 64)]
    ours, losses = _assert_head_matches_mmdet(RPN_CFG, feats, RPN_METAS, RPN_GTS)
    assert set(losses) == {"loss_rpn_cls", "loss_rpn_bbox"}


SSD_METAS = [dict(img_shape=(300, 300), pad_shape=(300, 300), ori_shape=(600, 450),
                  scale_factor=(300 / 450, 0.5)),
             dict(img_shape=(300, 300), pad_shape=(300, 300), ori_shape=(300, 300),
                  scale_factor=(1.0, 1.0))]
SSD_GTS = [(torch.tensor([[20.0, 30.0, 140.0, 200.0], [150.0, 40.0, 290.0, 120.0]]),
            torch.tensor([1, 3])),
           (torch.tensor([[5.0, 5.0, 295.0, 295.0], [100.0, 100.0, 130.0, 140.0]]),
            torch.tensor([0, 2]))]


@pytest.mark.peer
@pytest.mark.parametrize("cfg", [SSD_CFG, SSDLITE_CFG], ids=["ssd", "ssdlite"])
def test_ssd_head_matches_mmdet(mmdet, cfg):
    """SSD300's six levels (38..1) with hard negative mining; SSDLite's depthwise branch."""
    torch.manual_seed(2)
    feats = [torch.randn(2, 8, size, size) for size in (38, 19, 10, 5, 3, 1)]
    _assert_head_matches_mmdet(cfg, feats, SSD_METAS, SSD_GTS)


def test_batched_nms_from_cfg_by_hand():
    """Boxes 0 and 1 overlap with IoU 0.81 (81/100); box 2 is another class."""
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 9.0, 9.0], [0.0, 0.0, 9.0, 9.0]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    labels = torch.tensor([0, 0, 1])
    keep = batched_nms_from_cfg(boxes, scores, labels, dict(type="nms", iou_threshold=0.5))
    assert keep.tolist() == [0, 2]
    keep = batched_nms_from_cfg(boxes, scores, labels, dict(type="nms", iou_threshold=0.9))
    assert keep.tolist() == [0, 1, 2]
    keep = batched_nms_from_cfg(boxes, scores, labels,
                                dict(type="nms", iou_threshold=0.5, class_agnostic=True))
    assert keep.tolist() == [0]
    keep = batched_nms_from_cfg(boxes, scores, labels,
                                dict(type="nms", iou_threshold=0.9, max_num=2))
    assert keep.tolist() == [0, 1]


def test_batched_nms_from_cfg_errors():
    boxes, scores, labels = torch.zeros(1, 4), torch.ones(1), torch.zeros(1, dtype=torch.long)
    with pytest.raises(ValueError, match="nms type 'soft_nms' is not supported"):
        batched_nms_from_cfg(boxes, scores, labels, dict(type="soft_nms", iou_threshold=0.5))
    with pytest.raises(KeyError, match="needs 'iou_threshold'"):
        batched_nms_from_cfg(boxes, scores, labels, dict(type="nms"))


def test_post_process_rescales_filters_and_caps_by_hand():
    """scale_factor (w=2, h=4) divides x by 2 and y by 4; the 1-pixel-wide box goes with
    min_bbox_size=1; max_per_img keeps the best two."""
    results = InstanceData(
        bboxes=torch.tensor([[0.0, 0.0, 20.0, 40.0], [40.0, 40.0, 60.0, 80.0],
                             [100.0, 0.0, 101.0, 40.0], [0.0, 100.0, 20.0, 140.0]]),
        scores=torch.tensor([0.9, 0.5, 0.8, 0.7]), labels=torch.tensor([0, 1, 0, 1]))
    cfg = dict(min_bbox_size=1, nms=dict(type="nms", iou_threshold=0.5), max_per_img=2)
    head = BaseDenseHead()
    out = head._bbox_post_process(results, cfg, rescale=True,
                                  img_meta=dict(scale_factor=(2.0, 4.0)))
    torch.testing.assert_close(out.bboxes, torch.tensor([[0.0, 0.0, 10.0, 10.0],
                                                         [0.0, 25.0, 10.0, 35.0]]))
    torch.testing.assert_close(out.scores, torch.tensor([0.9, 0.7]))
    assert out.labels.tolist() == [0, 1]


def test_post_process_rescale_needs_scale_factor():
    results = InstanceData(bboxes=torch.zeros(1, 4), scores=torch.ones(1),
                           labels=torch.zeros(1, dtype=torch.long))
    with pytest.raises(KeyError, match="needs 'scale_factor'"):
        BaseDenseHead()._bbox_post_process(results, dict(), rescale=True, img_meta=dict())


def test_head_argument_errors():
    with pytest.raises(ValueError, match="num_classes must be 1, got 3"):
        RPNHead(in_channels=8, num_classes=3)
    with pytest.raises(ValueError, match="stacked_convs must be a non-negative integer, got -1"):
        RetinaHead(num_classes=3, in_channels=8, stacked_convs=-1)
    with pytest.raises(ValueError, match="in_channels has 2 levels but the anchor generator has 6"):
        SSDHead(num_classes=3, in_channels=(8, 8), anchor_generator=SSD_CFG["anchor_generator"])


def test_focal_heads_start_at_prior_probability_001():
    """init_cfg's bias_prob=0.01 sets the class predictor's bias to -log(0.99/0.01)
    (-4.5951, RetinaNet paper section 4.1); the other convs get bias 0."""
    head = RetinaHead(num_classes=3, in_channels=8, feat_channels=8, stacked_convs=1)
    head.init_weights()
    expected = -torch.log(torch.tensor(0.99 / 0.01))
    torch.testing.assert_close(head.retina_cls.bias, expected.expand(head.retina_cls.bias.shape))
    assert torch.all(head.retina_reg.bias == 0)
    assert 0.005 < head.retina_cls.weight.std().item() < 0.015


def test_unpack_gt_instances_splits_samples():
    first = DetDataSample(metainfo=dict(img_shape=(4, 4)))
    first.gt_instances = InstanceData(bboxes=torch.zeros(1, 4), labels=torch.zeros(1).long())
    second = DetDataSample(metainfo=dict(img_shape=(8, 8)))
    second.gt_instances = InstanceData(bboxes=torch.zeros(0, 4), labels=torch.zeros(0).long())
    second.ignored_instances = InstanceData(bboxes=torch.ones(1, 4))
    gts, ignored, metas = unpack_gt_instances([first, second])
    assert [len(gt) for gt in gts] == [1, 0]
    assert ignored[0] is None and len(ignored[1]) == 1
    assert [meta["img_shape"] for meta in metas] == [(4, 4), (8, 8)]


def test_empty_instances_shapes():
    metas = [dict(ori_shape=(5, 7)), dict(ori_shape=(3, 2))]
    boxes = empty_instances(metas, "cpu", "bbox", num_classes=3, score_per_cls=True)
    assert [tuple(r.bboxes.shape) for r in boxes] == [(0, 4), (0, 4)]
    assert tuple(boxes[0].scores.shape) == (0, 4) and boxes[0].labels.dtype == torch.long
    masks = empty_instances(metas, "cpu", "mask", mask_thr_binary=-1)
    assert tuple(masks[1].masks.shape) == (0, 3, 2) and masks[1].masks.dtype == torch.uint8
    with pytest.raises(ValueError, match="task_type must be 'bbox' or 'mask', but got 'segm'"):
        empty_instances(metas, "cpu", "segm")


def test_samplelist_boxtype2tensor_unwraps_boxes():
    sample = DetDataSample()
    sample.pred_instances = InstanceData(bboxes=HorizontalBoxes(torch.ones(2, 4)))
    samplelist_boxtype2tensor([sample])
    assert type(sample.pred_instances.bboxes) is torch.Tensor
    torch.testing.assert_close(sample.pred_instances.bboxes, torch.ones(2, 4))


def test_rpn_proposals_are_per_level_nms_by_hand():
    """Two identical boxes on different levels both survive (NMS runs within a level);
    min_bbox_size drops the thin one; proposals are labelled 0."""
    head = RPNHead(in_channels=8, feat_channels=8)
    results = InstanceData(
        bboxes=torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 10.0],
                             [0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 0.5, 10.0]]),
        scores=torch.tensor([0.9, 0.8, 0.7, 0.95]), level_ids=torch.tensor([0, 0, 1, 1]))
    cfg = dict(min_bbox_size=1, nms=dict(type="nms", iou_threshold=0.7), max_per_img=10)
    out = head._bbox_post_process(results, cfg)
    torch.testing.assert_close(out.scores, torch.tensor([0.9, 0.7]))
    assert out.labels.tolist() == [0, 0] and "level_ids" not in out
