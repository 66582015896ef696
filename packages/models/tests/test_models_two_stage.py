"""Two-stage detectors (Faster R-CNN, Mask R-CNN, Cascade (Mask) R-CNN, RPN): our configs
equal MMDetection 3.3.0's, parameter counts, and MMDetection parity with mmdet's random-init
weights copied in (tensor mode, predict with rescale, losses under one torch seed)."""

from __future__ import annotations

import copy
import importlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from detcore.config import Config
from detcore.registry import MODELS
from detcore.structures import BitmapMasks, DetDataSample, InstanceData

CONFIGS = Path(__file__).resolve().parents[1] / "detmodels" / "configs"
OURS = {
    "RPNHead": "detmodels.dense_heads.rpn_head",
    "RPN": "detmodels.detectors.rpn",
    "FasterRCNN": "detmodels.detectors.faster_rcnn",
    "MaskRCNN": "detmodels.detectors.mask_rcnn",
    "CascadeRCNN": "detmodels.detectors.cascade_rcnn",
    "SingleRoIExtractor": "detmodels.roi_heads.roi_extractors.single_level_roi_extractor",
    "Shared2FCBBoxHead": "detmodels.roi_heads.bbox_heads.convfc_bbox_head",
    "FCNMaskHead": "detmodels.roi_heads.mask_heads.fcn_mask_head",
    "StandardRoIHead": "detmodels.roi_heads.standard_roi_head",
    "CascadeRoIHead": "detmodels.roi_heads.cascade_roi_head",
}
# (ours, MMDetection's) config paths
PAIRS = {
    "faster": ("faster_rcnn/faster_rcnn_r50_fpn_1x_coco.py",
               "faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py"),
    "mask": ("mask_rcnn/mask_rcnn_r50_fpn_1x_coco.py", "mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py"),
    "cascade": ("cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py",
                "cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py"),
    "cascade_mask": ("cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py",
                     "cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py"),
}


@pytest.fixture(autouse=True, scope="module")
def _register_ours():
    """Until the lead merges h14/h15_registrations.txt into detmodels' plugin."""
    for name, module in OURS.items():
        MODELS.register_module(module=getattr(importlib.import_module(module), name), force=True)


def _mm_root():
    import importlib.util

    spec = importlib.util.find_spec("mmdet")
    if spec is None:
        pytest.skip("MMDetection 3.3.0 not installed")
    return Path(spec.origin).parent / ".mim" / "configs"


def _strip_pretrained(cfg):
    """Drop init_cfg=dict(type='Pretrained', ...) anywhere in a config (no downloads)."""
    if isinstance(cfg, dict):
        if isinstance(cfg.get("init_cfg"), dict) and cfg["init_cfg"].get("type") == "Pretrained":
            cfg.pop("init_cfg")
        for value in cfg.values():
            _strip_pretrained(value)
    elif isinstance(cfg, list):
        for value in cfg:
            _strip_pretrained(value)
    return cfg


def _with_classes(model, num_classes):
    """A model config with every RoI box/mask head on ``num_classes`` classes."""
    roi = model["roi_head"]
    for key in ("bbox_head", "mask_head"):
        heads = roi.get(key)
        for head in heads if isinstance(heads, list) else [heads] if heads else []:
            head["num_classes"] = num_classes
    return model


def _configs(kind, num_classes=None):
    """(our, mmdet's) model config dicts of a PAIRS entry."""
    from mmengine.config import Config as MMConfig

    ours = _strip_pretrained(Config.fromfile(str(CONFIGS / PAIRS[kind][0])).to_dict()["model"])
    theirs = _strip_pretrained(MMConfig.fromfile(str(_mm_root() / PAIRS[kind][1])).model)
    if num_classes is not None:
        _with_classes(ours, num_classes)
        _with_classes(theirs, num_classes)
    return ours, theirs


@pytest.mark.parametrize("kind", sorted(PAIRS))
def test_configs_equal_mmdetection(kind):
    """Model, data and evaluator settings equal MMDetection's shipped 1x configs."""
    from mmengine.config import Config as MMConfig

    ours = json.loads(json.dumps(Config.fromfile(str(CONFIGS / PAIRS[kind][0])).to_dict()))
    theirs = json.loads(json.dumps(MMConfig.fromfile(str(_mm_root() / PAIRS[kind][1])).to_dict()))
    for key in ("model", "train_dataloader", "val_dataloader", "test_dataloader",
                "val_evaluator", "train_cfg", "optim_wrapper", "param_scheduler"):
        assert ours[key] == theirs[key], key


def test_cascade_config_stage_settings():
    model = Config.fromfile(str(CONFIGS / PAIRS["cascade_mask"][0])).model
    assert model.roi_head.stage_loss_weights == [1, 0.5, 0.25]
    assert [s.assigner.pos_iou_thr for s in model.train_cfg.rcnn] == [0.5, 0.6, 0.7]
    assert [h.bbox_coder.target_stds for h in model.roi_head.bbox_head] == [
        [0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1], [0.033, 0.033, 0.067, 0.067]]
    assert [s.mask_size for s in model.train_cfg.rcnn] == [28, 28, 28]


# two images padded into one 160x224 batch; the second was resized from another original size
METAS = [
    dict(img_shape=(160, 224), pad_shape=(160, 224), batch_input_shape=(160, 224),
         ori_shape=(160, 224), scale_factor=(1.0, 1.0)),
    dict(img_shape=(128, 192), pad_shape=(160, 224), batch_input_shape=(160, 224),
         ori_shape=(256, 240), scale_factor=(0.8, 0.5)),
]
GT = [
    (torch.tensor([[10.0, 20.0, 90.0, 120.0], [100.0, 30.0, 210.0, 100.0],
                   [50.0, 60.0, 80.0, 95.0]]), torch.tensor([1, 2, 0])),
    (torch.tensor([[5.0, 5.0, 60.0, 70.0], [70.0, 40.0, 180.0, 125.0]]), torch.tensor([2, 1])),
]


def _gt_masks(bboxes):
    """(G, 160, 224) masks: the left half of each gt box."""
    masks = np.zeros((len(bboxes), 160, 224), dtype=np.uint8)
    for k, (x1, y1, x2, y2) in enumerate(bboxes.int().tolist()):
        masks[k, y1:y2, x1:(x1 + x2) // 2] = 1
    return masks


def _samples(mm=False):
    if mm:
        from mmdet.structures import DetDataSample as Sample
        from mmdet.structures.mask import BitmapMasks as Masks
        from mmengine.structures import InstanceData as Instances
    else:
        Sample, Masks, Instances = DetDataSample, BitmapMasks, InstanceData
    samples = []
    for meta, (bboxes, labels) in zip(METAS, GT):
        sample = Sample(metainfo=copy.deepcopy(meta))
        sample.gt_instances = Instances(bboxes=bboxes.clone(), labels=labels.clone(),
                                        masks=Masks(_gt_masks(bboxes), 160, 224))
        samples.append(sample)
    return samples


def _batch(seed=0):
    inputs = torch.randn(2, 3, 160, 224, generator=torch.Generator().manual_seed(seed))
    inputs[1, :, 128:] = 0
    inputs[1, :, :, 192:] = 0
    return inputs


def _build_pair(mmdet, kind, num_classes=3):
    """(ours, mmdet's) for a PAIRS entry, with mmdet's random init copied into ours. At test
    time the RPN keeps 100 proposals per image, not 1000 (CPU time: every stage's box head
    and, in tensor mode, mask head run on all of them)."""
    from mmdet.registry import MODELS as MMDET_MODELS

    our_cfg, mm_cfg = _configs(kind, num_classes)
    for cfg in (our_cfg, mm_cfg):
        cfg["test_cfg"]["rpn"]["max_per_img"] = 100
    torch.manual_seed(0)
    reference = MMDET_MODELS.build(mm_cfg)
    reference.init_weights()
    ours = MODELS.build(our_cfg)
    ours.load_state_dict(reference.state_dict(), strict=True)
    return ours, reference


def _flatten(outputs):
    if isinstance(outputs, torch.Tensor):
        return [outputs]
    return [t for item in outputs for t in _flatten(item)]


def _assert_matches_mmdet(ours, reference, with_masks):
    inputs = _batch()
    ours.eval()
    reference.eval()
    with torch.no_grad():
        our_out = _flatten(ours(inputs, _samples(), mode="tensor"))
        ref_out = _flatten(reference(inputs, _samples(mm=True), mode="tensor"))
        assert len(our_out) == len(ref_out) > 0
        for our, ref in zip(our_out, ref_out):
            torch.testing.assert_close(our, ref, atol=1e-4, rtol=1e-4)

        our_preds = ours(inputs, _samples(), mode="predict")
        ref_preds = reference(inputs, _samples(mm=True), mode="predict")
        for our, ref in zip(our_preds, ref_preds):
            a, b = our.pred_instances, ref.pred_instances
            assert len(a) == len(b) > 0
            torch.testing.assert_close(a.labels, b.labels)
            torch.testing.assert_close(a.scores, b.scores, atol=1e-4, rtol=1e-4)
            torch.testing.assert_close(a.bboxes, b.bboxes, atol=1e-3, rtol=1e-4)
            if with_masks:
                assert a.masks.shape[1:] == tuple(our.metainfo["ori_shape"])
                assert torch.equal(a.masks, b.masks)

    ours.train()
    reference.train()
    torch.manual_seed(3)
    our_losses = ours(inputs, _samples(), mode="loss")
    torch.manual_seed(3)
    ref_losses = reference(inputs, _samples(mm=True), mode="loss")
    assert set(our_losses) == set(ref_losses)
    for key in ref_losses:
        for our, ref in zip(_flatten(our_losses[key]), _flatten(ref_losses[key])):
            torch.testing.assert_close(our.detach(), ref.detach(), atol=1e-4, rtol=1e-4,
                                       msg=lambda m, k=key: f"{k}: {m}")
    return our_losses


def _num_params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.peer
@pytest.mark.slow
@pytest.mark.parametrize("kind, count", [("faster", 41_753_056), ("mask", 44_396_336)])
def test_parameter_counts_match_mmdet(mmdet, kind, count):
    from mmdet.registry import MODELS as MMDET_MODELS

    our_cfg, mm_cfg = _configs(kind)
    assert _num_params(MODELS.build(our_cfg)) == _num_params(MMDET_MODELS.build(mm_cfg)) == count


@pytest.mark.peer
@pytest.mark.slow
def test_faster_rcnn_matches_mmdet(mmdet):
    losses = _assert_matches_mmdet(*_build_pair(mmdet, "faster"), with_masks=False)
    assert set(losses) == {"loss_rpn_cls", "loss_rpn_bbox", "loss_cls", "acc", "loss_bbox"}


@pytest.mark.peer
@pytest.mark.slow
def test_mask_rcnn_matches_mmdet(mmdet):
    losses = _assert_matches_mmdet(*_build_pair(mmdet, "mask"), with_masks=True)
    assert "loss_mask" in losses


@pytest.mark.peer
@pytest.mark.slow
def test_cascade_rcnn_matches_mmdet(mmdet):
    losses = _assert_matches_mmdet(*_build_pair(mmdet, "cascade"), with_masks=False)
    assert {"s0.loss_cls", "s1.loss_bbox", "s2.acc"} <= set(losses)


@pytest.mark.peer
@pytest.mark.slow
def test_cascade_mask_rcnn_matches_mmdet(mmdet):
    losses = _assert_matches_mmdet(*_build_pair(mmdet, "cascade_mask"), with_masks=True)
    assert {"s0.loss_mask", "s2.loss_mask"} <= set(losses)


def test_two_stage_without_rpn_needs_proposals():
    from detmodels.detectors.faster_rcnn import FasterRCNN

    cfg = _strip_pretrained(Config.fromfile(str(CONFIGS / PAIRS["faster"][0])).to_dict()["model"])
    cfg.pop("type")
    cfg.pop("rpn_head")
    cfg["backbone"].update(depth=18)
    cfg["neck"]["in_channels"] = [64, 128, 256, 512]
    model = FasterRCNN(**cfg).eval()
    sample = DetDataSample(metainfo=copy.deepcopy(METAS[0]))
    with pytest.raises(ValueError, match="has no rpn_head, so every data sample needs 'proposals'"):
        model(torch.zeros(1, 3, 64, 64), [sample], mode="tensor")
