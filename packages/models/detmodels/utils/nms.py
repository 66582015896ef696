"""NMS driven by an MMCV-style config, as heads' ``test_cfg.nms`` spells it."""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor

from detops import batched_nms


def batched_nms_from_cfg(boxes: Tensor, scores: Tensor, labels: Tensor,
                         nms_cfg: Mapping) -> Tensor:
    """Class-wise NMS of (N, 4) xyxy ``boxes`` with (N,) ``scores`` and ``labels``.

    Args:
        nms_cfg: ``dict(type='nms', iou_threshold=...)``; ``class_agnostic=True`` lets every
            box suppress every other; ``max_num`` > 0 keeps at most that many;
            ``split_thr`` is accepted (detops picks its own strategy).

    Returns:
        (K,) kept indices, highest score first.
    """
    nms_type = nms_cfg.get("type", "nms")
    if nms_type != "nms":
        raise ValueError(f"nms type {nms_type!r} is not supported by dense heads' "
                         "post-processing; use type='nms'")
    if "iou_threshold" not in nms_cfg:
        raise KeyError(f"nms config {dict(nms_cfg)!r} needs 'iou_threshold'")
    idxs = labels.new_zeros(labels.shape) if nms_cfg.get("class_agnostic", False) else labels
    keep = batched_nms(boxes, scores, idxs, float(nms_cfg["iou_threshold"]))
    max_num = nms_cfg.get("max_num", -1)
    return keep[:max_num] if max_num > 0 else keep
