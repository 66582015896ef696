"""TBLR box coding (FSAF, GuidedAnchoring): distances from the prior's centre to the box's
top, bottom, left and right sides, in units of the prior's height / width, divided by
``normalizer``."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from detcore.structures import BaseBoxes, HorizontalBoxes
from detcore.structures.bbox import get_box_tensor

from .base_bbox_coder import BaseBBoxCoder
from .delta_xywh_bbox_coder import MaxShape


class TBLRBBoxCoder(BaseBBoxCoder):
    """TBLR coder.

    Args:
        normalizer: one float or one per (top, bottom, left, right).
        clip_border: clip decoded boxes to ``max_shape`` when given.
    """

    def __init__(self, normalizer: Sequence[float] | float = 4.0, clip_border: bool = True,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.normalizer = normalizer
        self.clip_border = clip_border

    def encode(self, bboxes: Tensor | BaseBoxes, gt_bboxes: Tensor | BaseBoxes) -> Tensor:
        """(N, 4) TBLR targets of (N, 4) ``gt_bboxes`` relative to (N, 4) priors ``bboxes``."""
        bboxes, gt_bboxes = get_box_tensor(bboxes), get_box_tensor(gt_bboxes)
        if bboxes.size(0) != gt_bboxes.size(0) or bboxes.size(-1) != 4 or gt_bboxes.size(-1) != 4:
            raise ValueError(f"encode needs (N, 4) priors and gt boxes, but got "
                             f"{tuple(bboxes.shape)} and {tuple(gt_bboxes.shape)}")
        return bboxes2tblr(bboxes, gt_bboxes, normalizer=self.normalizer)

    def decode(self, bboxes: Tensor | BaseBoxes, pred_bboxes: Tensor,
               max_shape: MaxShape = None) -> Tensor | HorizontalBoxes:
        """(..., 4) boxes from (..., 4) priors and (..., 4) TBLR predictions."""
        decoded = tblr2bboxes(get_box_tensor(bboxes), pred_bboxes, normalizer=self.normalizer,
                              max_shape=max_shape, clip_border=self.clip_border)
        return HorizontalBoxes(decoded) if self.use_box_type else decoded


def _normalizer_tensor(normalizer: Sequence[float] | float, like: Tensor) -> Tensor | float:
    if isinstance(normalizer, float):
        return normalizer
    normalizer = torch.tensor(normalizer, device=like.device)
    if normalizer.numel() != 4:
        raise ValueError(f"normalizer must be a float or 4 floats, but got {normalizer.tolist()}")
    return normalizer


def bboxes2tblr(priors: Tensor, gts: Tensor, normalizer: Sequence[float] | float = 4.0,
                normalize_by_wh: bool = True) -> Tensor:
    """(N, 4) (top, bottom, left, right) of (N, 4) ``gts`` seen from the centres of (N, 4)
    ``priors``, divided by the prior height (top/bottom) and width (left/right) when
    ``normalize_by_wh``, then by ``normalizer``."""
    normalizer = _normalizer_tensor(normalizer, priors)
    if priors.size(0) != gts.size(0):
        raise ValueError(f"bboxes2tblr needs as many priors as gts, but got {priors.size(0)} "
                         f"and {gts.size(0)}")
    centers = (priors[:, 0:2] + priors[:, 2:4]) / 2
    loc = torch.stack([centers[:, 1] - gts[:, 1], gts[:, 3] - centers[:, 1],
                       centers[:, 0] - gts[:, 0], gts[:, 2] - centers[:, 0]], dim=1)
    if normalize_by_wh:
        wh = priors[:, 2:4] - priors[:, 0:2]
        loc = loc / torch.cat([wh[:, 1:2], wh[:, 1:2], wh[:, 0:1], wh[:, 0:1]], dim=1)
    return loc / normalizer


def tblr2bboxes(priors: Tensor, tblr: Tensor, normalizer: Sequence[float] | float = 4.0,
                normalize_by_wh: bool = True, max_shape: MaxShape = None,
                clip_border: bool = True) -> Tensor:
    """Inverse of :func:`bboxes2tblr` for (..., 4) priors; clips to ``max_shape`` (one (h, w)
    or (B, 2) for (B, N, 4) input) when ``clip_border``."""
    normalizer = _normalizer_tensor(normalizer, priors)
    if priors.size(0) != tblr.size(0) or (priors.dim() == 3 and priors.size(1) != tblr.size(1)):
        raise ValueError(f"tblr2bboxes needs one prior per prediction, but got priors "
                         f"{tuple(priors.shape)} and predictions {tuple(tblr.shape)}")
    loc = tblr * normalizer
    centers = (priors[..., 0:2] + priors[..., 2:4]) / 2
    if normalize_by_wh:
        wh = priors[..., 2:4] - priors[..., 0:2]
        loc = loc * torch.cat([wh[..., 1:2], wh[..., 1:2], wh[..., 0:1], wh[..., 0:1]], dim=-1)
    top, bottom, left, right = loc.unbind(dim=-1)
    bboxes = torch.stack([centers[..., 0] - left, centers[..., 1] - top,
                          centers[..., 0] + right, centers[..., 1] + bottom], dim=-1)
    if not (clip_border and max_shape is not None):
        return bboxes
    limits = torch.as_tensor(max_shape, dtype=priors.dtype, device=priors.device)[..., :2]
    if limits.dim() == 2 and (bboxes.dim() != 3 or limits.size(0) != bboxes.size(0)):
        raise ValueError(f"per-image max_shape of shape {tuple(limits.shape)} needs boxes of "
                         f"shape ({limits.size(0)}, N, 4), but got {tuple(bboxes.shape)}")
    upper = torch.cat([limits, limits], dim=-1).flip(-1)  # (w, h, w, h)
    if limits.dim() == 2:
        upper = upper[:, None, :]
    return torch.minimum(bboxes.clamp(min=0), upper)
