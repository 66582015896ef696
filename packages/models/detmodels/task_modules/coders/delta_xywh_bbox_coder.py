"""Delta (dx, dy, dw, dh) box coding of R-CNN: centre offsets in units of the prior's size and
log size ratios, normalised by ``target_means`` / ``target_stds``."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from detcore.structures import BaseBoxes, HorizontalBoxes
from detcore.structures.bbox import get_box_tensor

from .base_bbox_coder import BaseBBoxCoder

MaxShape = Sequence[int] | Tensor | Sequence[Sequence[int]] | None


class DeltaXYWHBBoxCoder(BaseBBoxCoder):
    """Delta XYWH coder.

    Args:
        target_means, target_stds: normalisation of the 4 deltas.
        clip_border: clip decoded boxes to ``max_shape`` when it is given.
        add_ctr_clamp: clamp the decoded centre shift to +-``ctr_clamp`` pixels (and the
            log-size only from above), as YOLOF does.
    """

    def __init__(self, target_means: Sequence[float] = (0.0, 0.0, 0.0, 0.0),
                 target_stds: Sequence[float] = (1.0, 1.0, 1.0, 1.0), clip_border: bool = True,
                 add_ctr_clamp: bool = False, ctr_clamp: int = 32, **kwargs) -> None:
        super().__init__(**kwargs)
        self.means = target_means
        self.stds = target_stds
        self.clip_border = clip_border
        self.add_ctr_clamp = add_ctr_clamp
        self.ctr_clamp = ctr_clamp

    def encode(self, bboxes: Tensor | BaseBoxes, gt_bboxes: Tensor | BaseBoxes) -> Tensor:
        """(N, 4) deltas of (N, 4) ``gt_bboxes`` relative to (N, 4) priors ``bboxes``."""
        bboxes, gt_bboxes = get_box_tensor(bboxes), get_box_tensor(gt_bboxes)
        if bboxes.size(0) != gt_bboxes.size(0) or bboxes.size(-1) != 4 or gt_bboxes.size(-1) != 4:
            raise ValueError(f"encode needs (N, 4) priors and gt boxes, but got "
                             f"{tuple(bboxes.shape)} and {tuple(gt_bboxes.shape)}")
        return bbox2delta(bboxes, gt_bboxes, self.means, self.stds)

    def decode(self, bboxes: Tensor | BaseBoxes, pred_bboxes: Tensor, max_shape: MaxShape = None,
               wh_ratio_clip: float = 16 / 1000) -> Tensor | HorizontalBoxes:
        """Boxes from priors and deltas.

        Args:
            bboxes: (N, 4) priors, or (B, N, 4) for batched deltas.
            pred_bboxes: (N, 4 * k) deltas (k boxes per prior, e.g. one per class), or
                (B, N, 4 * k).
            max_shape: (h, w) to clip to, or one (h, w) per image (B, 2) for batched input.
            wh_ratio_clip: bound on |dw|, |dh| of log(1 / wh_ratio_clip).
        """
        bboxes = get_box_tensor(bboxes)
        if pred_bboxes.size(0) != bboxes.size(0) or (
                pred_bboxes.dim() == 3 and pred_bboxes.size(1) != bboxes.size(1)):
            raise ValueError(f"decode needs one prior per prediction, but got priors "
                             f"{tuple(bboxes.shape)} and predictions {tuple(pred_bboxes.shape)}")
        decode = delta2bbox if pred_bboxes.dim() == 2 else batched_delta2bbox
        decoded = decode(bboxes, pred_bboxes, self.means, self.stds, max_shape, wh_ratio_clip,
                         self.clip_border, self.add_ctr_clamp, self.ctr_clamp)
        if self.use_box_type:
            if decoded.size(-1) != 4:
                raise ValueError("use_box_type needs one box per prior, but the decoded boxes "
                                 f"have shape {tuple(decoded.shape)}")
            return HorizontalBoxes(decoded)
        return decoded


def bbox2delta(proposals: Tensor, gt: Tensor, means: Sequence[float] = (0.0, 0.0, 0.0, 0.0),
               stds: Sequence[float] = (1.0, 1.0, 1.0, 1.0)) -> Tensor:
    """(..., 4) normalised deltas that turn ``proposals`` into ``gt`` (both (..., 4) xyxy)."""
    if proposals.shape != gt.shape:
        raise ValueError(f"bbox2delta needs proposals and gt of the same shape, but got "
                         f"{tuple(proposals.shape)} and {tuple(gt.shape)}")
    proposals, gt = proposals.float(), gt.float()
    p_xy = (proposals[..., :2] + proposals[..., 2:]) * 0.5
    p_wh = proposals[..., 2:] - proposals[..., :2]
    g_xy = (gt[..., :2] + gt[..., 2:]) * 0.5
    g_wh = gt[..., 2:] - gt[..., :2]
    deltas = torch.cat([(g_xy - p_xy) / p_wh, torch.log(g_wh / p_wh)], dim=-1)
    return (deltas - deltas.new_tensor(means)) / deltas.new_tensor(stds)


def _denormalised_shifts(rois: Tensor, deltas: Tensor, means, stds, wh_ratio_clip: float,
                         add_ctr_clamp: bool, ctr_clamp: float) -> Tensor:
    """(..., 4) decoded xyxy boxes of (..., 4) ``rois`` and matching (..., 4) ``deltas``."""
    deltas = deltas * deltas.new_tensor(stds) + deltas.new_tensor(means)
    p_xy = (rois[..., :2] + rois[..., 2:]) * 0.5
    p_wh = rois[..., 2:] - rois[..., :2]
    shift_xy = p_wh * deltas[..., :2]
    max_ratio = abs(math.log(wh_ratio_clip))
    if add_ctr_clamp:
        shift_xy = shift_xy.clamp(min=-ctr_clamp, max=ctr_clamp)
        d_wh = deltas[..., 2:].clamp(max=max_ratio)
    else:
        d_wh = deltas[..., 2:].clamp(min=-max_ratio, max=max_ratio)
    g_xy = p_xy + shift_xy
    g_wh = p_wh * d_wh.exp()
    return torch.cat([g_xy - g_wh * 0.5, g_xy + g_wh * 0.5], dim=-1)


def delta2bbox(rois: Tensor, deltas: Tensor, means: Sequence[float] = (0.0, 0.0, 0.0, 0.0),
               stds: Sequence[float] = (1.0, 1.0, 1.0, 1.0), max_shape: MaxShape = None,
               wh_ratio_clip: float = 16 / 1000, clip_border: bool = True,
               add_ctr_clamp: bool = False, ctr_clamp: int = 32) -> Tensor:
    """(N, 4 * k) boxes from (N, 4) ``rois`` and (N, 4 * k) ``deltas``; see
    :meth:`DeltaXYWHBBoxCoder.decode`. ``max_shape`` is one (h, w)."""
    num_bboxes = deltas.size(0)
    if num_bboxes == 0:
        return deltas
    per_roi = deltas.size(1) // 4
    boxes = _denormalised_shifts(rois.repeat(1, per_roi).reshape(-1, 4), deltas.reshape(-1, 4),
                                 means, stds, wh_ratio_clip, add_ctr_clamp, ctr_clamp)
    if clip_border and max_shape is not None:
        boxes[..., 0::2].clamp_(min=0, max=max_shape[1])
        boxes[..., 1::2].clamp_(min=0, max=max_shape[0])
    return boxes.reshape(num_bboxes, -1)


def batched_delta2bbox(rois: Tensor, deltas: Tensor,
                       means: Sequence[float] = (0.0, 0.0, 0.0, 0.0),
                       stds: Sequence[float] = (1.0, 1.0, 1.0, 1.0), max_shape: MaxShape = None,
                       wh_ratio_clip: float = 16 / 1000, clip_border: bool = True,
                       add_ctr_clamp: bool = False, ctr_clamp: int = 32) -> Tensor:
    """(B, N, 4 * k) boxes from (B, N, 4) ``rois`` and (B, N, 4 * k) ``deltas``;
    ``max_shape`` is one (h, w) or a (B, 2) per-image tensor."""
    per_roi = deltas.size(-1) // 4
    grouped = deltas.reshape(*deltas.shape[:-1], per_roi, 4)
    boxes = _denormalised_shifts(rois[..., None, :].expand_as(grouped), grouped, means, stds,
                                 wh_ratio_clip, add_ctr_clamp, ctr_clamp).reshape(deltas.shape)
    if not (clip_border and max_shape is not None):
        return boxes
    limits = torch.as_tensor(max_shape, dtype=boxes.dtype, device=boxes.device)[..., :2]
    if limits.dim() == 2 and (boxes.dim() != 3 or limits.size(0) != boxes.size(0)):
        raise ValueError(f"per-image max_shape of shape {tuple(limits.shape)} needs deltas of "
                         f"shape ({limits.size(0)}, N, 4k), but got {tuple(boxes.shape)}")
    upper = limits.flip(-1).repeat(*([1] * (limits.dim() - 1)), 2 * per_roi)  # (..., w, h, w, h ...)
    if limits.dim() == 2:
        upper = upper[:, None, :]
    return torch.minimum(boxes.clamp(min=0), upper)
