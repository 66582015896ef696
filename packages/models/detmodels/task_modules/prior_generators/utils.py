"""Which anchors a head trains on: those on the image, within an allowed border."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from detcore.structures import BaseBoxes


def anchor_inside_flags(flat_anchors: Tensor | BaseBoxes, valid_flags: Tensor,
                        img_shape: Sequence[int], allowed_border: int = 0) -> Tensor:
    """(N,) flags: ``valid_flags`` and the (N, 4) anchor lies within the (h, w) image grown by
    ``allowed_border`` pixels. A negative ``allowed_border`` keeps every valid anchor."""
    if allowed_border < 0:
        return valid_flags
    img_h, img_w = img_shape[:2]
    if isinstance(flat_anchors, BaseBoxes):
        return valid_flags & flat_anchors.is_inside([img_h, img_w], all_inside=True,
                                                    allowed_border=allowed_border)
    return (valid_flags
            & (flat_anchors[:, 0] >= -allowed_border)
            & (flat_anchors[:, 1] >= -allowed_border)
            & (flat_anchors[:, 2] < img_w + allowed_border)
            & (flat_anchors[:, 3] < img_h + allowed_border))
