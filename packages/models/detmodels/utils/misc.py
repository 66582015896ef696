"""Unpacking a batch of DetDataSample for the heads, and shaping their results."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from detcore.structures import DetDataSample, InstanceData
from detcore.structures.bbox import BaseBoxes


def unpack_gt_instances(batch_data_samples: Sequence[DetDataSample]
                        ) -> tuple[list[InstanceData], list[InstanceData | None], list[dict]]:
    """Split data samples into what ``loss_by_feat`` takes.

    Returns:
        gt instances per image, ignored instances per image (None where the sample has
        none), and each image's metainfo.
    """
    if batch_data_samples is None:
        raise ValueError("batch_data_samples is None: mode 'loss' needs data samples "
                         "carrying gt_instances")
    gt_instances, gt_instances_ignore, img_metas = [], [], []
    for index, sample in enumerate(batch_data_samples):
        if "gt_instances" not in sample:
            raise ValueError(f"batch_data_samples[{index}] has no gt_instances")
        img_metas.append(sample.metainfo)
        gt_instances.append(sample.gt_instances)
        gt_instances_ignore.append(sample.ignored_instances
                                   if "ignored_instances" in sample else None)
    return gt_instances, gt_instances_ignore, img_metas


def empty_instances(batch_img_metas: Sequence[dict], device: torch.device | str,
                    task_type: str, instance_results: list[InstanceData] | None = None,
                    mask_thr_binary: float = 0, box_dim: int = 4, num_classes: int = 80,
                    score_per_cls: bool = False) -> list[InstanceData]:
    """Results with no detections, one per image: what heads return when an image has
    no proposals.

    Args:
        task_type: 'bbox' fills ``bboxes`` (0, box_dim), ``scores`` (0,) or
            (0, num_classes + 1) with ``score_per_cls``, ``labels`` (0,); 'mask' fills
            ``masks`` (0, H, W) at each image's ``ori_shape``.
        instance_results: filled in place when given (one per image).
        mask_thr_binary: a negative threshold asks for uint8 masks (soft masks), else bool.
    """
    if task_type not in ("bbox", "mask"):
        raise ValueError(f"task_type must be 'bbox' or 'mask', but got {task_type!r}")
    if instance_results is not None and len(instance_results) != len(batch_img_metas):
        raise ValueError(f"instance_results has {len(instance_results)} entries but "
                         f"batch_img_metas has {len(batch_img_metas)}")
    results_list = []
    for img_id, img_meta in enumerate(batch_img_metas):
        results = InstanceData() if instance_results is None else instance_results[img_id]
        if task_type == "bbox":
            results.bboxes = torch.zeros(0, box_dim, device=device)
            score_shape = (0, num_classes + 1) if score_per_cls else (0,)
            results.scores = torch.zeros(score_shape, device=device)
            results.labels = torch.zeros(0, device=device, dtype=torch.long)
        else:
            img_h, img_w = img_meta["ori_shape"][:2]
            dtype = torch.bool if mask_thr_binary >= 0 else torch.uint8
            results.masks = torch.zeros(0, img_h, img_w, device=device, dtype=dtype)
        results_list.append(results)
    return results_list


def samplelist_boxtype2tensor(batch_data_samples: Sequence[DetDataSample]) -> None:
    """Replace box objects (HorizontalBoxes...) by their plain (N, box_dim) tensors in the
    gt, predicted and ignored instances of every sample, in place."""
    for sample in batch_data_samples:
        for field in ("gt_instances", "pred_instances", "ignored_instances"):
            if field in sample:
                instances = getattr(sample, field)
                bboxes = instances.get("bboxes", None)
                if isinstance(bboxes, BaseBoxes):
                    instances.bboxes = bboxes.tensor
