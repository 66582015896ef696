"""RoI heads: RoI level mapping by hand, and MMDetection 3.3.0 parity of the RoI extractor,
the box heads, StandardRoIHead (Faster and Mask R-CNN) and CascadeRoIHead with mmdet's
random-init weights copied in (outputs, losses under the same torch seed, predictions)."""

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from detcore.registry import MODELS
from detcore.structures import BitmapMasks, DetDataSample, InstanceData
from detmodels.roi_heads import (
    BBoxHead,
    CascadeRoIHead,
    ConvFCBBoxHead,
    FCNMaskHead,
    Shared2FCBBoxHead,
    Shared4Conv1FCBBoxHead,
    SingleRoIExtractor,
    StandardRoIHead,
)
from detmodels.roi_heads.mask_heads import paste_masks

_OURS = (BBoxHead, CascadeRoIHead, ConvFCBBoxHead, FCNMaskHead, Shared2FCBBoxHead,
         Shared4Conv1FCBBoxHead, SingleRoIExtractor, StandardRoIHead)
_MM_CONFIGS = Path("_base_") / "models"


@pytest.fixture(scope="module", autouse=True)
def _registered():
    for cls in _OURS:  # until detmodels' plugin lists them
        MODELS.register_module(module=cls, force=True)


def _mm_model_cfg(name):
    """The ``model`` dict of one of mmdet's shipped base model configs."""
    import mmdet
    from mmengine.config import Config

    root = Path(mmdet.__file__).parent / ".mim" / "configs"
    return Config.fromfile(str(root / _MM_CONFIGS / name)).model.to_dict()


def _roi_head_cfg(name, num_classes=3):
    """roi_head config of ``name`` with its rcnn train/test settings, for 3 classes."""
    model = _mm_model_cfg(name)
    cfg = copy.deepcopy(model["roi_head"])
    heads = cfg["bbox_head"] if isinstance(cfg["bbox_head"], list) else [cfg["bbox_head"]]
    for head in heads:
        head["num_classes"] = num_classes
    masks = cfg.get("mask_head")
    if masks is not None:
        for head in masks if isinstance(masks, list) else [masks]:
            head["num_classes"] = num_classes
    cfg.update(train_cfg=model["train_cfg"]["rcnn"], test_cfg=model["test_cfg"]["rcnn"])
    return cfg


def _pair(mmdet, cfg):
    """(ours, mmdet's) built from ``cfg`` with mmdet's random init copied into ours."""
    from mmengine.config import ConfigDict

    torch.manual_seed(0)
    theirs = mmdet.registry.MODELS.build(ConfigDict(copy.deepcopy(cfg)))
    theirs.init_weights()
    ours = MODELS.build(copy.deepcopy(cfg))
    ours.load_state_dict(theirs.state_dict(), strict=True)
    return ours.eval(), theirs.eval()


def _feats(seed=0, channels=256, sizes=(32, 16, 8, 4), batch=2):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(batch, channels, s, s, generator=g) for s in sizes)


def _scene(seed=0, img=128, num_props=60):
    """Two images' gts (boxes, labels, bitmap masks) and proposals scattered around them."""
    g = torch.Generator().manual_seed(seed)
    gts, props = [], []
    for num_gt in (3, 2):
        xy = torch.rand(num_gt, 2, generator=g) * 70
        wh = torch.rand(num_gt, 2, generator=g) * 40 + 12
        boxes = torch.cat([xy, (xy + wh).clamp(max=img)], 1)
        masks = np.zeros((num_gt, img, img), dtype=np.uint8)
        for k, (x1, y1, x2, y2) in enumerate(boxes.round().int().tolist()):
            masks[k, y1:y2, x1:(x1 + x2) // 2 + 1] = 1
        labels = torch.randint(0, 3, (num_gt,), generator=g)
        centre = boxes[torch.randint(0, num_gt, (num_props,), generator=g)]
        prop = (centre + torch.randn(num_props, 4, generator=g) * 6).clamp(0, img)
        prop[:, 2:] = torch.maximum(prop[:, 2:], prop[:, :2] + 2)
        gts.append((boxes, labels, masks))
        props.append(prop)
    meta = dict(img_shape=(img, img), ori_shape=(img // 2, img // 2), scale_factor=(2.0, 2.0),
                pad_shape=(img, img), batch_input_shape=(img, img))
    return gts, props, meta


def _samples(gts, meta, mm=None):
    """DetDataSamples (ours, or mmdet's when ``mm`` is the mmdet module) carrying the gts."""
    out = []
    for boxes, labels, masks in gts:
        if mm is None:
            sample = DetDataSample(metainfo=meta)
            sample.gt_instances = InstanceData(bboxes=boxes.clone(), labels=labels.clone(),
                                               masks=BitmapMasks(masks.copy(), *masks.shape[1:]))
        else:
            from mmdet.structures import DetDataSample as MMSample
            from mmdet.structures.mask import BitmapMasks as MMBitmapMasks
            from mmengine.structures import InstanceData as MMInstanceData

            sample = MMSample(metainfo=meta)
            sample.gt_instances = MMInstanceData(
                bboxes=boxes.clone(), labels=labels.clone(),
                masks=MMBitmapMasks(masks.copy(), *masks.shape[1:]))
        out.append(sample)
    return out


def _proposals(props, mm=False):
    if mm:
        from mmengine.structures import InstanceData as MMInstanceData

        return [MMInstanceData(bboxes=p.clone()) for p in props]
    return [InstanceData(bboxes=p.clone()) for p in props]


def test_roi_levels_follow_finest_scale_56():
    extractor = SingleRoIExtractor(dict(type="RoIAlign", output_size=7, sampling_ratio=0), 8,
                                   [4, 8, 16, 32])
    # scales 20, 56, 111, 112, 300, 600: floor(log2(s / 56)) clamped to 0..3
    sides = torch.tensor([20.0, 56.0, 111.0, 112.0, 300.0, 600.0])
    rois = torch.stack([torch.zeros(6), torch.zeros(6), torch.zeros(6), sides, sides], 1)
    assert extractor.map_roi_levels(rois, 4).tolist() == [0, 0, 0, 1, 2, 3]


def test_roi_layer_must_be_a_detops_layer():
    with pytest.raises(ValueError, match="roi_layer type 'RoIAlignX' is not a detops layer"):
        SingleRoIExtractor(dict(type="RoIAlignX", output_size=7), 8, [4])


def test_paste_masks_fills_box_and_leaves_far_pixels_empty():
    masks = torch.ones(1, 4, 4)
    pasted = paste_masks(masks, torch.tensor([[2.0, 3.0, 6.0, 9.0]]), 12, 10)
    # interior pixel centres sample the all-ones mask fully; pixels > 1 px outside are 0
    assert pasted[0, 4:8, 3:5].eq(1).all()
    assert pasted[0, 11, :].eq(0).all() and pasted[0, :, 8:].eq(0).all()


@pytest.mark.peer
def test_roi_extractor_matches_mmdet(mmdet):
    cfg = dict(type="SingleRoIExtractor", out_channels=256, featmap_strides=[4, 8, 16, 32],
               roi_layer=dict(type="RoIAlign", output_size=7, sampling_ratio=0))
    ours, theirs = _pair(mmdet, cfg)
    _, props, _ = _scene()
    from detcore.structures.bbox.transforms import bbox2roi

    rois = bbox2roi([p * 4 for p in props])  # large RoIs reach every level
    feats = _feats()
    assert torch.allclose(ours(feats, rois), theirs(feats, rois), atol=1e-5)
    assert torch.allclose(ours(feats, rois, roi_scale_factor=1.5),
                          theirs(feats, rois, roi_scale_factor=1.5), atol=1e-5)


@pytest.mark.peer
@pytest.mark.parametrize("head", [
    dict(type="Shared2FCBBoxHead", in_channels=16, fc_out_channels=32, roi_feat_size=7),
    dict(type="Shared4Conv1FCBBoxHead", in_channels=16, conv_out_channels=8, fc_out_channels=32,
         norm_cfg=dict(type="GN", num_groups=4)),
    dict(type="ConvFCBBoxHead", num_cls_convs=1, num_reg_convs=2, num_reg_fcs=1,
         in_channels=16, conv_out_channels=8, fc_out_channels=32, reg_class_agnostic=True),
    dict(type="BBoxHead", with_avg_pool=True, in_channels=16),
])
def test_bbox_heads_match_mmdet(mmdet, head):
    ours, theirs = _pair(mmdet, dict(head, num_classes=5))
    x = torch.randn(6, 16, 7, 7, generator=torch.Generator().manual_seed(1))
    for a, b in zip(ours(x), theirs(x)):
        assert torch.allclose(a, b, atol=1e-5)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())


@pytest.mark.peer
def test_fcn_mask_head_matches_mmdet(mmdet):
    cfg = dict(type="FCNMaskHead", num_convs=2, in_channels=16, conv_out_channels=8, num_classes=4)
    ours, theirs = _pair(mmdet, cfg)
    x = torch.randn(3, 16, 14, 14, generator=torch.Generator().manual_seed(2))
    out = ours(x)
    assert out.shape == (3, 4, 28, 28)
    assert torch.allclose(out, theirs(x), atol=1e-5)


def _compare_losses(ours, theirs, atol=1e-4):
    assert set(ours) == set(theirs)
    for key in theirs:
        a, b = ours[key], theirs[key]
        a = torch.stack(list(a)) if isinstance(a, (list, tuple)) else a
        b = torch.stack(list(b)) if isinstance(b, (list, tuple)) else b
        assert torch.allclose(a, b, atol=atol), (key, a, b)


def _check_roi_head(mmdet, cfg, with_masks):
    ours, theirs = _pair(mmdet, cfg)
    feats = _feats()
    gts, props, meta = _scene()
    # tensor mode
    out_a = ours(feats, _proposals(props), _samples(gts, meta))
    out_b = theirs(feats, _proposals(props, mm=True), _samples(gts, meta, mmdet))
    for a, b in zip(out_a, out_b):
        for x, y in zip(a if isinstance(a, (list, tuple)) else [a],
                        b if isinstance(b, (list, tuple)) else [b]):
            assert torch.allclose(x, y, atol=1e-4)
    # loss, random sampling under one seed
    ours.train()
    theirs.train()
    torch.manual_seed(7)
    loss_a = ours.loss(feats, _proposals(props), _samples(gts, meta))
    torch.manual_seed(7)
    loss_b = theirs.loss(feats, _proposals(props, mm=True), _samples(gts, meta, mmdet))
    _compare_losses(loss_a, loss_b)
    assert any("mask" in k for k in loss_a) == with_masks
    # predict with rescale to the original image
    ours.eval()
    theirs.eval()
    pred_a = ours.predict(feats, _proposals(props), _samples(gts, meta), rescale=True)
    pred_b = theirs.predict(feats, _proposals(props, mm=True), _samples(gts, meta, mmdet),
                            rescale=True)
    for a, b in zip(pred_a, pred_b):
        assert len(b.bboxes) > 0
        assert torch.allclose(a.bboxes, b.bboxes, atol=1e-3)
        assert torch.allclose(a.scores, b.scores, atol=1e-4)
        assert torch.equal(a.labels, b.labels)
        if with_masks:
            assert a.masks.shape[1:] == (64, 64)
            assert torch.equal(a.masks, b.masks)
    return loss_a


@pytest.mark.peer
@pytest.mark.slow
def test_faster_rcnn_roi_head_matches_mmdet(mmdet):
    losses = _check_roi_head(mmdet, _roi_head_cfg("faster-rcnn_r50_fpn.py"), with_masks=False)
    assert set(losses) == {"loss_cls", "acc", "loss_bbox"}


@pytest.mark.peer
@pytest.mark.slow
def test_mask_rcnn_roi_head_matches_mmdet(mmdet):
    losses = _check_roi_head(mmdet, _roi_head_cfg("mask-rcnn_r50_fpn.py"), with_masks=True)
    assert set(losses) == {"loss_cls", "acc", "loss_bbox", "loss_mask"}


@pytest.mark.peer
@pytest.mark.slow
def test_cascade_roi_head_matches_mmdet(mmdet):
    losses = _check_roi_head(mmdet, _roi_head_cfg("cascade-rcnn_r50_fpn.py"), with_masks=False)
    assert {"s0.loss_cls", "s1.loss_bbox", "s2.acc"} <= set(losses)


@pytest.mark.peer
@pytest.mark.slow
def test_cascade_mask_roi_head_matches_mmdet(mmdet):
    _check_roi_head(mmdet, _roi_head_cfg("cascade-mask-rcnn_r50_fpn.py"), with_masks=True)
