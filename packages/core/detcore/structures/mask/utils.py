"""Mask helpers used around models and metrics: tight boxes of bitmaps and RLE encoding."""

from __future__ import annotations

import numpy as np
import pycocotools.mask as mask_utils
import torch


def _first_and_last(occupied: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, L) bool -> first True position and one past the last, per row (0 for empty rows)."""
    length = occupied.shape[1]
    as_int = occupied.to(torch.uint8)
    first = as_int.argmax(dim=1)
    end = length - as_int.flip(1).argmax(dim=1)
    return first, end


def mask2bbox(masks: torch.Tensor | np.ndarray) -> torch.Tensor:
    """(N, H, W) binary masks -> (N, 4) float32 xyxy tight boxes, on the masks' device.

    x2/y2 are exclusive (one past the last occupied column/row), as in MMDetection, so
    the result equals torchvision.ops.masks_to_boxes + [0, 0, 1, 1]. Empty masks give
    (0, 0, 0, 0).
    """
    masks = torch.as_tensor(masks)
    if masks.ndim != 3:
        raise ValueError(f"mask2bbox: masks must have shape (N, H, W), got {tuple(masks.shape)}")
    occupied = masks != 0
    boxes = torch.zeros((masks.shape[0], 4), dtype=torch.float32, device=masks.device)
    if occupied.numel() == 0:
        return boxes
    columns = occupied.any(dim=1)
    rows = occupied.any(dim=2)
    x1, x2 = _first_and_last(columns)
    y1, y2 = _first_and_last(rows)
    has_pixels = columns.any(dim=1)
    boxes[has_pixels] = torch.stack([x1, y1, x2, y2], dim=1)[has_pixels].float()
    return boxes


def encode_mask_results(mask_results) -> list[dict]:
    """Binary masks -> list of COCO RLE dicts ({'size': [H, W], 'counts': bytes}), one per mask.

    ``mask_results``: an (N, H, W) array or tensor, or a sequence of (H, W) masks of one size.
    """
    if isinstance(mask_results, torch.Tensor):
        mask_results = mask_results.detach().cpu().numpy()
    if len(mask_results) == 0:
        return []
    if not isinstance(mask_results, np.ndarray):
        shapes = {tuple(np.shape(mask)) for mask in mask_results}
        if len(shapes) > 1:
            raise ValueError(
                f"encode_mask_results: masks must share one (H, W), got {sorted(shapes)}"
            )
        mask_results = np.stack(
            [m.detach().cpu().numpy() if isinstance(m, torch.Tensor) else m for m in mask_results]
        )
    if mask_results.ndim != 3:
        raise ValueError(
            f"encode_mask_results: masks must be (N, H, W), got shape {mask_results.shape}"
        )
    # pycocotools wants (H, W, N) uint8 in Fortran order and encodes all N in one call.
    stacked = np.asfortranarray((mask_results != 0).transpose(1, 2, 0).astype(np.uint8))
    return mask_utils.encode(stacked)
