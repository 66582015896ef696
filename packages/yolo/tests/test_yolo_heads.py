"""YOLOv8 head and YOLO IoU loss: losses and gradients against Ultralytics' v8DetectionLoss
and bbox_iou, IoU variants against torchvision, decoding and post-processing against
hand-computed boxes, and error messages."""

import math
import types

import pytest
import torch
import torchvision
from torch import nn

from detcore.structures import DetDataSample, InstanceData
from detmodels.losses import CrossEntropyLoss, DistributionFocalLoss
from detmodels.task_modules import MlvlPointGenerator
from detyolo.converters.ultralytics import convert
from detyolo.dense_heads import YOLOv8Head, YOLOv8HeadModule, yolo_postprocess
from detyolo.losses import IoULoss, bbox_overlaps
from detyolo.task_modules import BatchTaskAlignedAssigner

NMS = dict(type="nms", iou_threshold=0.7)


def _head(num_classes=3, widen_factor=0.25, **assigner):
    return YOLOv8Head(
        head_module=YOLOv8HeadModule(num_classes, [256, 512, 1024], widen_factor=widen_factor),
        prior_generator=MlvlPointGenerator([8, 16, 32], offset=0.5),
        loss_cls=CrossEntropyLoss(use_sigmoid=True, reduction="none", loss_weight=0.5),
        loss_bbox=IoULoss("ciou", "xyxy", reduction="sum", loss_weight=7.5, return_iou=False),
        loss_dfl=DistributionFocalLoss(reduction="mean", loss_weight=1.5 / 4),
        train_cfg=dict(assigner=BatchTaskAlignedAssigner(num_classes, topk=10, alpha=0.5, beta=6.0,
                                                         eps=1e-9, use_ciou=True, **assigner)),
        test_cfg=dict(multi_label=True, nms_pre=30000, score_thr=0.001, nms=NMS, max_per_img=300))


def _samples(gts):
    samples = []
    for g in gts:
        sample = DetDataSample()
        sample.gt_instances = InstanceData(bboxes=g[:, :4], labels=g[:, 4].long())
        samples.append(sample)
    return samples


def test_head_module_outputs_per_level():
    head = YOLOv8HeadModule(5, [256, 512, 1024], widen_factor=0.25).eval()
    feats = [torch.randn(2, c, s, s) for c, s in ((64, 16), (128, 8), (256, 4))]
    with torch.no_grad():
        cls_scores, dists = head(feats)
    assert [tuple(c.shape) for c in cls_scores] == [(2, 5, 16, 16), (2, 5, 8, 8), (2, 5, 4, 4)]
    assert [tuple(d.shape) for d in dists] == [(2, 64, 16, 16), (2, 64, 8, 8), (2, 64, 4, 4)]


def test_head_module_bias_init_by_hand():
    head = YOLOv8HeadModule(80, [256, 512, 1024], widen_factor=0.25)
    head.init_weights()
    for cls_pred, reg_pred, stride in zip(head.cls_preds, head.reg_preds, (8, 16, 32)):
        expected = math.log(5 / 80 / (640 / stride) ** 2)
        torch.testing.assert_close(cls_pred[-1].bias, torch.full((80,), expected))
        torch.testing.assert_close(reg_pred[-1].bias, torch.ones(64))
    assert torch.equal(head.integral.conv.weight.flatten(), torch.arange(16.0))


@pytest.mark.peer
def test_loss_and_gradients_match_ultralytics_v8_detection_loss():
    """Same weights, images and boxes: Ultralytics' (box, cls, dfl) x batch size equals our
    (loss_bbox, loss_cls, loss_dfl), and so do the gradients of the prediction convs. Our
    assigner takes Ultralytics' small-box widening (min_gt_side = middle stride 16)."""
    from ultralytics.nn.tasks import DetectionModel
    from ultralytics.utils.loss import v8DetectionLoss

    from detyolo.backbones import YOLOv8CSPDarknet
    from detyolo.detectors import YOLODetector
    from detyolo.necks import YOLOv8PAFPN

    torch.manual_seed(0)
    theirs = DetectionModel("yolov8n.yaml", nc=3, verbose=False)
    ours = YOLODetector(YOLOv8CSPDarknet(deepen_factor=0.33, widen_factor=0.25),
                        YOLOv8PAFPN([256, 512, 1024], [256, 512, 1024], 0.33, 0.25),
                        _head(min_gt_side=16))
    ours.load_state_dict(convert(theirs.state_dict()), strict=True)
    theirs.args = types.SimpleNamespace(box=7.5, cls=0.5, dfl=1.5)
    criterion = v8DetectionLoss(theirs)
    # train mode for the loss, BN frozen so both see the same statistics
    for model in (theirs, ours):
        model.train()
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()

    height, width = 128, 160
    gts = [torch.tensor([[10., 20, 70, 100, 2], [90, 30, 150, 120, 0], [5, 5, 12, 14, 1]]),
           torch.tensor([[40., 50, 120, 110, 1]])]
    boxes = torch.cat(gts)
    xywhn = torch.stack([(boxes[:, 0] + boxes[:, 2]) / 2 / width,
                         (boxes[:, 1] + boxes[:, 3]) / 2 / height,
                         (boxes[:, 2] - boxes[:, 0]) / width,
                         (boxes[:, 3] - boxes[:, 1]) / height], 1)
    batch = dict(batch_idx=torch.tensor([0., 0, 0, 1]), cls=boxes[:, 4], bboxes=xywhn)
    x = torch.rand(2, 3, height, width)

    their_loss, _ = criterion(theirs(x), batch)
    their_loss.sum().backward()
    our_losses = ours(x, _samples(gts), mode="loss")
    sum(our_losses.values()).backward()

    ours_vector = torch.stack([our_losses["loss_bbox"], our_losses["loss_cls"],
                               our_losses["loss_dfl"]])
    torch.testing.assert_close(ours_vector.detach(), their_loss.detach(), rtol=1e-4, atol=1e-5)
    detect = theirs.model[22]
    module = ours.bbox_head.head_module
    for level in range(3):
        torch.testing.assert_close(module.cls_preds[level][-1].weight.grad,
                                   detect.cv3[level][-1].weight.grad, rtol=1e-3, atol=1e-5)
        torch.testing.assert_close(module.reg_preds[level][-1].weight.grad,
                                   detect.cv2[level][-1].weight.grad, rtol=1e-3, atol=1e-5)


def test_loss_without_objects_is_classification_only():
    head = _head()
    feats = [torch.randn(2, c, s, s, requires_grad=True) for c, s in ((64, 8), (128, 4), (256, 2))]
    empty = InstanceData(bboxes=torch.zeros(0, 4), labels=torch.zeros(0, dtype=torch.long))
    losses = head.loss_by_feat(*head(feats), batch_gt_instances=[empty, empty],
                               batch_img_metas=[{}, {}])
    assert losses["loss_cls"] > 0
    assert losses["loss_bbox"] == 0 and losses["loss_dfl"] == 0
    sum(losses.values()).backward()
    assert all(f.grad is not None for f in feats)


def test_loss_needs_an_assigner():
    head = _head()
    head.assigner = None
    feats = [torch.randn(1, c, s, s) for c, s in ((64, 8), (128, 4), (256, 2))]
    with pytest.raises(RuntimeError, match="train_cfg.assigner is needed"):
        head.loss_by_feat(*head(feats), batch_gt_instances=[], batch_img_metas=[])


def _one_hot_outputs(num_classes=3):
    """Raw outputs on a 64x64 input with exactly one confident prediction: level 0, cell
    (row 2, col 3), class 1, distances (l, t, r, b) = (2, 1, 3, 4) bins of stride 8."""
    sizes = (8, 4, 2)
    cls_scores = [torch.full((1, num_classes, s, s), -20.0) for s in sizes]
    cls_scores[0][0, 1, 2, 3] = 5.0
    dists = [torch.zeros(1, 64, s, s) for s in sizes]
    for side, bin_index in enumerate((2, 1, 3, 4)):
        dists[0][0, side * 16 + bin_index, 2, 3] = 30.0  # softmax ~ one-hot on that bin
    return cls_scores, dists


def test_predict_decodes_distances_and_undoes_the_letterbox():
    head = _head().eval()
    cls_scores, dists = _one_hot_outputs()
    meta = dict(ori_shape=(40, 60), scale_factor=(0.5, 0.5), pad_param=(6, 6, 2, 2))
    (result,) = head.predict_by_feat(cls_scores, dists, batch_img_metas=[meta])
    centre_x, centre_y = (3 + 0.5) * 8, (2 + 0.5) * 8
    on_input = torch.tensor([centre_x - 16, centre_y - 8, centre_x + 24, centre_y + 32])
    expected = (on_input - torch.tensor([2., 6, 2, 6])) / 0.5
    expected = torch.minimum(expected, torch.tensor([60., 40, 60, 40]))   # clipped to the image
    assert result.labels.tolist() == [1]
    torch.testing.assert_close(result.bboxes[0], expected, atol=1e-3, rtol=0)
    torch.testing.assert_close(result.scores, torch.sigmoid(torch.tensor([5.0])))


def test_postprocess_multi_label_keeps_every_class_above_threshold():
    bboxes = torch.tensor([[0., 0, 10, 10], [50, 50, 60, 60]])
    scores = torch.tensor([[0.9, 0.6, 0.0], [0.2, 0.0, 0.05]])
    cfg = dict(score_thr=0.1, nms_pre=100, nms=NMS, max_per_img=10)
    multi = yolo_postprocess(bboxes, scores, {}, dict(cfg, multi_label=True), rescale=False)
    single = yolo_postprocess(bboxes, scores, {}, dict(cfg, multi_label=False), rescale=False)
    assert multi.labels.tolist() == [0, 1, 0]
    torch.testing.assert_close(multi.scores, torch.tensor([0.9, 0.6, 0.2]))
    assert single.labels.tolist() == [0, 0]
    torch.testing.assert_close(single.scores, torch.tensor([0.9, 0.2]))


def test_postprocess_nms_matches_torchvision_batched_nms():
    torch.manual_seed(0)
    xy = torch.rand(200, 2) * 80
    bboxes = torch.cat([xy, xy + 10 + torch.rand(200, 2) * 30], 1)
    scores = torch.rand(200, 4)
    result = yolo_postprocess(bboxes, scores, {}, dict(score_thr=0.3, nms_pre=1000, nms=NMS,
                                                      max_per_img=50, multi_label=True),
                              rescale=False)
    keep_mask = scores > 0.3
    prior, label = keep_mask.nonzero(as_tuple=True)
    keep = torchvision.ops.batched_nms(bboxes[prior], scores[prior, label], label, 0.7)[:50]
    torch.testing.assert_close(result.bboxes, bboxes[prior[keep]])
    assert result.labels.tolist() == label[keep].tolist()


def test_postprocess_objectness_gates_and_scales_scores():
    bboxes = torch.tensor([[0., 0, 10, 10], [20, 20, 30, 30]])
    scores = torch.tensor([[0.8, 0.1], [0.9, 0.9]])
    objectness = torch.tensor([0.5, 0.05])
    result = yolo_postprocess(bboxes, scores, {}, dict(score_thr=0.1, nms=NMS, multi_label=True),
                              objectness=objectness, rescale=False)
    assert result.labels.tolist() == [0]
    torch.testing.assert_close(result.scores, torch.tensor([0.4]))


def test_postprocess_rejects_other_nms_types():
    with pytest.raises(ValueError, match="only 'nms' is supported, got 'soft_nms'"):
        yolo_postprocess(torch.tensor([[0., 0, 1, 1]]), torch.tensor([[0.9]]), {},
                         dict(score_thr=0.1, nms=dict(type="soft_nms", iou_threshold=0.5)),
                         rescale=False)


# ---------------------------------------------------------------------- IoU loss
def _random_boxes(n, seed):
    generator = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=generator) * 50
    return torch.cat([xy, xy + 1 + torch.rand(n, 2, generator=generator) * 40], 1)


@pytest.mark.peer
def test_ciou_and_its_gradient_match_ultralytics_bbox_iou():
    from ultralytics.utils.metrics import bbox_iou

    pred = _random_boxes(64, 0).requires_grad_()
    target = _random_boxes(64, 1)
    pred_theirs = pred.detach().clone().requires_grad_()
    ours = bbox_overlaps(pred, target, "ciou", "xyxy")
    theirs = bbox_iou(pred_theirs, target, xywh=False, CIoU=True).squeeze(-1)
    torch.testing.assert_close(ours, theirs)
    ours.sum().backward()
    theirs.sum().backward()
    torch.testing.assert_close(pred.grad, pred_theirs.grad)


def test_iou_and_giou_match_torchvision():
    pred, target = _random_boxes(32, 2), _random_boxes(32, 3)
    torch.testing.assert_close(bbox_overlaps(pred, target, "iou", "xyxy"),
                               torchvision.ops.box_iou(pred, target).diagonal(), atol=1e-5, rtol=0)
    torch.testing.assert_close(bbox_overlaps(pred, target, "giou", "xyxy"),
                               torchvision.ops.generalized_box_iou(pred, target).diagonal(),
                               atol=1e-5, rtol=0)


def test_xywh_format_and_loss_reductions():
    pred_xyxy, target_xyxy = _random_boxes(8, 4), _random_boxes(8, 5)
    to_xywh = torchvision.ops.box_convert
    weight = torch.rand(8)
    loss = IoULoss("ciou", "xywh", reduction="sum", loss_weight=2.0, return_iou=True)
    value, iou = loss(to_xywh(pred_xyxy, "xyxy", "cxcywh"), to_xywh(target_xyxy, "xyxy", "cxcywh"),
                      weight=weight)
    expected_iou = bbox_overlaps(pred_xyxy, target_xyxy, "ciou", "xyxy")
    torch.testing.assert_close(iou, expected_iou, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(value, 2.0 * ((1 - expected_iou) * weight).sum(), atol=1e-4,
                               rtol=1e-5)
    mean = IoULoss("giou", "xyxy", return_iou=False)(pred_xyxy, target_xyxy, avg_factor=4.0)
    giou = bbox_overlaps(pred_xyxy, target_xyxy, "giou", "xyxy")
    torch.testing.assert_close(mean, (1 - giou).sum() / 4.0)


def test_iou_loss_argument_errors():
    with pytest.raises(ValueError, match="iou_mode must be one of \\('iou', 'giou', 'ciou'\\), "
                                         "got 'diou'"):
        IoULoss(iou_mode="diou")
    with pytest.raises(ValueError, match="bbox_format must be one of \\('xyxy', 'xywh'\\), "
                                         "got 'cxcywh'"):
        IoULoss(bbox_format="cxcywh")


# ---------------------------------------------------------------------- YOLOv5 head
@pytest.fixture(scope="module")
def mmyolo_models(mmdet):
    """Builds MMYOLO 0.6.0 modules, on the MMDetection reference set up by the root conftest
    (MMYOLO asserts mmcv < 2.1 at import; mmcv-lite is 2.2)."""
    import importlib.util

    if importlib.util.find_spec("mmyolo") is None:
        pytest.skip("MMYOLO 0.6.0 not installed")
    import mmcv

    real_version, mmcv.__version__ = mmcv.__version__, "2.0.1"
    try:
        import mmyolo.models  # noqa: F401  (registers MMYOLO's modules)
    finally:
        mmcv.__version__ = real_version
    from mmengine.registry import DefaultScope
    from mmyolo.registry import MODELS as MMYOLO_MODELS
    from mmyolo.utils import register_all_modules

    register_all_modules(init_default_scope=False)

    class Builder:
        @staticmethod
        def build(cfg):
            with DefaultScope.overwrite_default_scope("mmyolo"):
                return MMYOLO_MODELS.build(cfg)

    return Builder


def _v5_head(num_classes, test_cfg=None):
    from detyolo.dense_heads.yolov5_head import YOLOv5Head, YOLOv5HeadModule

    return YOLOv5Head(
        head_module=YOLOv5HeadModule(num_classes, [256, 512, 1024], widen_factor=0.25),
        prior_generator=dict(type="YOLOAnchorGenerator", strides=(8, 16, 32),
                             base_sizes=[[(10, 13), (16, 30), (33, 23)],
                                         [(30, 61), (62, 45), (59, 119)],
                                         [(116, 90), (156, 198), (373, 326)]]),
        loss_cls=CrossEntropyLoss(use_sigmoid=True, loss_weight=0.5 * num_classes / 80),
        loss_bbox=IoULoss("ciou", "xywh", eps=1e-7, loss_weight=0.05, return_iou=True),
        loss_obj=CrossEntropyLoss(use_sigmoid=True, loss_weight=(256 / 640) ** 2),
        test_cfg=test_cfg or dict(multi_label=True, nms_pre=30000, score_thr=0.001,
                                  nms=dict(type="nms", iou_threshold=0.65), max_per_img=300))


_V5_GTS = [torch.tensor([[10., 20, 70, 100, 2], [90, 30, 150, 120, 0], [5, 5, 12, 14, 1],
                         [100, 100, 250, 240, 3]]),
           torch.tensor([[40., 50, 120, 110, 1]])]
_V5_METAS = [dict(batch_input_shape=(256, 256), ori_shape=(256, 256), scale_factor=(1., 1.))] * 2


@pytest.mark.peer
def test_yolov5_head_loss_and_predictions_match_mmyolo(mmyolo_models):
    from mmengine.config import ConfigDict
    from mmengine.structures import InstanceData as MMInstanceData

    theirs = mmyolo_models.build(dict(
        type="YOLOv5Head",
        head_module=dict(type="YOLOv5HeadModule", num_classes=4, in_channels=[256, 512, 1024],
                         widen_factor=0.25, featmap_strides=[8, 16, 32], num_base_priors=3),
        prior_generator=dict(type="mmdet.YOLOAnchorGenerator", strides=[8, 16, 32],
                             base_sizes=[[(10, 13), (16, 30), (33, 23)],
                                         [(30, 61), (62, 45), (59, 119)],
                                         [(116, 90), (156, 198), (373, 326)]]),
        loss_cls=dict(type="mmdet.CrossEntropyLoss", use_sigmoid=True, reduction="mean",
                      loss_weight=0.5 * 4 / 80),
        loss_bbox=dict(type="IoULoss", iou_mode="ciou", bbox_format="xywh", eps=1e-7,
                       reduction="mean", loss_weight=0.05, return_iou=True),
        loss_obj=dict(type="mmdet.CrossEntropyLoss", use_sigmoid=True, reduction="mean",
                      loss_weight=(256 / 640) ** 2),
        test_cfg=ConfigDict(multi_label=True, nms_pre=30000, score_thr=0.001,
                            nms=dict(type="nms", iou_threshold=0.65), max_per_img=300)))
    theirs.head_module.init_weights()
    ours = _v5_head(4)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    torch.manual_seed(0)
    feats = [torch.randn(2, c, s, s) for c, s in ((64, 32), (128, 16), (256, 8))]

    their_outs, our_outs = theirs(feats), ours(feats)
    their_losses = theirs.loss_by_feat(
        *their_outs, [MMInstanceData(bboxes=g[:, :4], labels=g[:, 4].long()) for g in _V5_GTS],
        _V5_METAS)
    our_losses = ours.loss_by_feat(
        *our_outs, batch_gt_instances=[InstanceData(bboxes=g[:, :4], labels=g[:, 4].long())
                                       for g in _V5_GTS], batch_img_metas=_V5_METAS)
    assert set(our_losses) == set(their_losses)
    for key in our_losses:
        torch.testing.assert_close(our_losses[key].reshape(()), their_losses[key].reshape(()))

    with torch.no_grad():
        their_results = theirs.predict_by_feat(*their_outs, batch_img_metas=_V5_METAS)
        our_results = ours.predict_by_feat(*our_outs, batch_img_metas=_V5_METAS)
    for their, our in zip(their_results, our_results):
        torch.testing.assert_close(our.bboxes, their.bboxes)
        torch.testing.assert_close(our.scores, their.scores)
        assert torch.equal(our.labels, their.labels)


def test_yolov5_shape_matching_by_hand():
    """MMYOLO's worked example: a gt of centre (26, 37) and size (36, 24) on the stride-8
    level with anchors (15, 5), (24, 16), (16, 24): the first fails the shape test (height
    ratio 3 / 0.625 = 4.8 > 4); the centre (3.25, 4.625) in cells is in the left half of its
    cell (x) and the lower half (y), so cell (3, 4) and its left (2, 4) and lower (3, 5)
    neighbours are positives for each of the two other anchors."""
    head = _v5_head(2)
    head.priors_base_sizes[0] = torch.tensor([[15., 5], [24, 16], [16, 24]]) / 8
    gt = InstanceData(bboxes=torch.tensor([[26. - 18, 37 - 12, 26 + 18, 37 + 12]]),
                      labels=torch.tensor([1]))
    targets = head._targets_per_prior([gt], [dict(batch_input_shape=(640, 640))], "cpu")
    img, label, prior, grid_x, grid_y, box_target = head._positives(targets, 0, 80, 80)
    cells = sorted(zip(prior.tolist(), grid_x.tolist(), grid_y.tolist()))
    assert cells == [(1, 2, 4), (1, 3, 4), (1, 3, 5), (2, 2, 4), (2, 3, 4), (2, 3, 5)]
    assert set(label.tolist()) == {1} and set(img.tolist()) == {0}
    own = (grid_x == 3) & (grid_y == 4)
    torch.testing.assert_close(box_target[own][0], torch.tensor([0.25, 0.625, 4.5, 3.0]))
    left = (grid_x == 2) & (grid_y == 4)
    torch.testing.assert_close(box_target[left][0, :2], torch.tensor([1.25, 0.625]))


def test_yolov5_decoding_by_hand():
    """Zero offsets (sigmoid 0.5) decode to the anchor itself centred on its cell."""
    head = _v5_head(2, dict(multi_label=False, score_thr=0.3, nms=NMS, max_per_img=10))
    sizes = (8, 4, 2)
    cls_scores = [torch.full((1, 3 * 2, s, s), -10.0) for s in sizes]
    bbox_preds = [torch.zeros(1, 3 * 4, s, s) for s in sizes]
    objectnesses = [torch.full((1, 3, s, s), -10.0) for s in sizes]
    cls_scores[1][0, 2 * 2 + 1, 1, 2] = 10.0   # level 1, anchor 2, class 1, row 1, col 2
    objectnesses[1][0, 2, 1, 2] = 10.0
    (result,) = head.predict_by_feat(cls_scores, bbox_preds, objectnesses,
                                     batch_img_metas=[dict(ori_shape=(64, 64),
                                                           scale_factor=(1.0, 1.0))])
    centre_x, centre_y, (width, height) = (2 + 0.5) * 16, (1 + 0.5) * 16, (59, 119)
    expected = torch.tensor([centre_x - width / 2, centre_y - height / 2,
                             centre_x + width / 2, centre_y + height / 2]).clamp(0, 64)
    assert result.labels.tolist() == [1]
    torch.testing.assert_close(result.bboxes[0], expected)
    torch.testing.assert_close(result.scores, torch.sigmoid(torch.tensor([10.0])) ** 2)


def test_yolov5_single_class_has_no_class_loss():
    head = _v5_head(1)
    feats = [torch.randn(1, c, s, s) for c, s in ((64, 32), (128, 16), (256, 8))]
    gts = [InstanceData(bboxes=torch.tensor([[40., 50, 120, 110]]), labels=torch.tensor([0]))]
    losses = head.loss_by_feat(*head(feats), batch_gt_instances=gts, batch_img_metas=_V5_METAS[:1])
    assert losses["loss_cls"] == 0 and losses["loss_bbox"] > 0 and losses["loss_obj"] > 0


@pytest.mark.peer
def test_yolov8_head_matches_mmyolo(mmyolo_models):
    """The same loss and predictions as MMYOLO's YOLOv8Head (its assigner has no small-box
    widening: min_gt_side=None)."""
    from mmengine.config import ConfigDict
    from mmengine.structures import InstanceData as MMInstanceData

    theirs = mmyolo_models.build(dict(
        type="YOLOv8Head",
        head_module=dict(type="YOLOv8HeadModule", num_classes=3, in_channels=[256, 512, 1024],
                         widen_factor=0.25, reg_max=16, featmap_strides=[8, 16, 32]),
        prior_generator=dict(type="mmdet.MlvlPointGenerator", offset=0.5, strides=[8, 16, 32]),
        bbox_coder=dict(type="DistancePointBBoxCoder"),
        loss_cls=dict(type="mmdet.CrossEntropyLoss", use_sigmoid=True, reduction="none",
                      loss_weight=0.5),
        loss_bbox=dict(type="IoULoss", iou_mode="ciou", bbox_format="xyxy", reduction="sum",
                       loss_weight=7.5, return_iou=False),
        loss_dfl=dict(type="mmdet.DistributionFocalLoss", reduction="mean", loss_weight=0.375),
        train_cfg=ConfigDict(assigner=dict(type="BatchTaskAlignedAssigner", num_classes=3,
                                           use_ciou=True, topk=10, alpha=0.5, beta=6.0,
                                           eps=1e-9)),
        test_cfg=ConfigDict(multi_label=True, nms_pre=30000, score_thr=0.001, nms=NMS,
                            max_per_img=300)))
    theirs.head_module.init_weights()
    ours = _head(num_classes=3)
    state_dict = dict(theirs.state_dict())
    state_dict["head_module.integral.conv.weight"] = ours.head_module.integral.conv.weight
    ours.load_state_dict(state_dict, strict=True)
    torch.manual_seed(0)
    feats = [torch.randn(2, c, s, s) for c, s in ((64, 32), (128, 16), (256, 8))]
    gts = [g.clone() for g in _V5_GTS]
    gts[0][3, 4] = 2
    their_losses = theirs.loss_by_feat(
        *theirs(feats), [MMInstanceData(bboxes=g[:, :4], labels=g[:, 4].long()) for g in gts],
        _V5_METAS)
    our_losses = ours.loss_by_feat(
        *ours(feats), batch_gt_instances=[InstanceData(bboxes=g[:, :4], labels=g[:, 4].long())
                                          for g in gts], batch_img_metas=_V5_METAS)
    for key in our_losses:
        torch.testing.assert_close(our_losses[key], their_losses[key], rtol=1e-4, atol=1e-5)
    theirs.eval()
    ours.eval()
    with torch.no_grad():
        their_results = theirs.predict_by_feat(*theirs(feats), batch_img_metas=_V5_METAS)
        our_results = ours.predict_by_feat(*ours(feats), batch_img_metas=_V5_METAS)
    for their, our in zip(their_results, our_results):
        torch.testing.assert_close(our.bboxes, their.bboxes, atol=1e-3, rtol=1e-5)
        assert torch.equal(our.labels, their.labels)
