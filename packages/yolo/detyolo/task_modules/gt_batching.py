"""Padding per-image ground truth into batch tensors, so YOLO assigners work on the whole
batch at once instead of looping over images."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from detcore.structures.bbox import get_box_tensor


def pad_gt_instances(batch_gt_instances: Sequence, device: torch.device | None = None
                     ) -> tuple[Tensor, Tensor, Tensor]:
    """Per-image ``InstanceData`` (``bboxes`` (n_i, 4) xyxy, ``labels`` (n_i,)) to

    labels (B, N, 1) float, bboxes (B, N, 4) xyxy and a valid flag (B, N, 1) float,
    with N = max n_i (0 when no image has objects); padded rows are all zero.
    """
    num_imgs = len(batch_gt_instances)
    boxes = [get_box_tensor(gt.bboxes).reshape(-1, 4) for gt in batch_gt_instances]
    labels = [gt.labels.reshape(-1) for gt in batch_gt_instances]
    device = device or (boxes[0].device if boxes else torch.device("cpu"))
    counts = torch.tensor([b.shape[0] for b in boxes], device=device)
    max_count = int(counts.max()) if num_imgs else 0
    padded_boxes = torch.zeros(num_imgs, max_count, 4, device=device)
    padded_labels = torch.zeros(num_imgs, max_count, 1, device=device)
    if max_count:
        valid = torch.arange(max_count, device=device)[None] < counts[:, None]
        padded_boxes[valid] = torch.cat(boxes).to(device=device, dtype=torch.float32)
        padded_labels[valid] = torch.cat(labels).to(device=device, dtype=torch.float32)[:, None]
    else:
        valid = torch.zeros(num_imgs, 0, dtype=torch.bool, device=device)
    return padded_labels, padded_boxes, valid[..., None].float()
