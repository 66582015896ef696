"""Max-IoU assignment (Faster R-CNN, RetinaNet, SSD): positive above ``pos_iou_thr``,
negative below ``neg_iou_thr``, ignored in between; each gt may additionally claim its
best-overlapping priors (``match_low_quality``) so that no gt goes unmatched."""

from __future__ import annotations

import torch
from torch import Tensor

from detcore.registry import TASK_UTILS
from detcore.structures import InstanceData

from .assign_result import AssignResult, labels_of_assigned
from .base_assigner import BaseAssigner


class MaxIoUAssigner(BaseAssigner):
    """Assign each prior to the gt it overlaps most, by thresholds.

    Args:
        pos_iou_thr: minimum IoU of a positive.
        neg_iou_thr: a float (negative when IoU in [0, thr)) or a (low, high) range.
        min_pos_iou: minimum IoU for a low-quality match of a gt to its best priors.
        gt_max_assign_all: a gt claims every prior that ties for its best IoU (else only
            the first).
        ignore_iof_thr: priors covered by an ignore box more than this (IoF) are ignored
            (gt index -1); negative disables.
        ignore_wrt_candidates: the IoF is over the prior's area (else the ignore box's).
        match_low_quality: let each gt claim its best priors even below ``pos_iou_thr``.
        gpu_assign_thr: with more gts than this, assign on the CPU (memory); negative disables.
        iou_calculator: config of the overlap function.
    """

    def __init__(self, pos_iou_thr: float, neg_iou_thr: float | tuple[float, float],
                 min_pos_iou: float = 0.0, gt_max_assign_all: bool = True,
                 ignore_iof_thr: float = -1, ignore_wrt_candidates: bool = True,
                 match_low_quality: bool = True, gpu_assign_thr: float = -1,
                 iou_calculator: dict = dict(type="BboxOverlaps2D"),  # noqa: B006 (never mutated)
                 perm_repeat_gt_cfg: dict | None = None):
        if perm_repeat_gt_cfg is not None:
            raise NotImplementedError("MaxIoUAssigner: perm_repeat_gt_cfg (jittering duplicated "
                                      "gt boxes) is not supported")
        if isinstance(neg_iou_thr, (tuple, list)) and len(neg_iou_thr) != 2:
            raise ValueError(f"neg_iou_thr must be a float or a (low, high) pair, but got "
                             f"{neg_iou_thr!r}")
        self.pos_iou_thr = pos_iou_thr
        self.neg_iou_thr = neg_iou_thr
        self.min_pos_iou = min_pos_iou
        self.gt_max_assign_all = gt_max_assign_all
        self.ignore_iof_thr = ignore_iof_thr
        self.ignore_wrt_candidates = ignore_wrt_candidates
        self.gpu_assign_thr = gpu_assign_thr
        self.match_low_quality = match_low_quality
        self.iou_calculator = TASK_UTILS.build(iou_calculator)
        self.perm_repeat_gt_cfg = perm_repeat_gt_cfg

    def assign(self, pred_instances: InstanceData, gt_instances: InstanceData,
               gt_instances_ignore: InstanceData | None = None, **kwargs) -> AssignResult:
        """Assign ``pred_instances.priors`` (N, 4) to ``gt_instances.bboxes`` (G, 4)."""
        gt_bboxes, gt_labels = gt_instances.bboxes, gt_instances.labels
        priors = pred_instances.priors
        ignore_bboxes = None if gt_instances_ignore is None else gt_instances_ignore.bboxes
        device = priors.device
        on_cpu = 0 < self.gpu_assign_thr < gt_bboxes.shape[0]
        if on_cpu:
            priors, gt_bboxes, gt_labels = priors.cpu(), gt_bboxes.cpu(), gt_labels.cpu()
            ignore_bboxes = None if ignore_bboxes is None else ignore_bboxes.cpu()

        overlaps = self.iou_calculator(gt_bboxes, priors)  # (G, N)
        if (self.ignore_iof_thr > 0 and ignore_bboxes is not None and ignore_bboxes.numel() > 0
                and priors.numel() > 0):
            if self.ignore_wrt_candidates:
                ignore_iof = self.iou_calculator(priors, ignore_bboxes, mode="iof").max(dim=1).values
            else:
                ignore_iof = self.iou_calculator(ignore_bboxes, priors, mode="iof").max(dim=0).values
            overlaps[:, ignore_iof > self.ignore_iof_thr] = -1
        result = self.assign_wrt_overlaps(overlaps, gt_labels)

        if on_cpu:
            result.gt_inds = result.gt_inds.to(device)
            result.max_overlaps = result.max_overlaps.to(device)
            result.labels = result.labels.to(device)
        return result

    def assign_wrt_overlaps(self, overlaps: Tensor, gt_labels: Tensor) -> AssignResult:
        """Assign from (G, N) gt-prior overlaps (-1 marks ignored priors)."""
        num_gts, num_priors = overlaps.shape
        if num_gts == 0 or num_priors == 0:
            gt_inds = overlaps.new_full((num_priors,), 0 if num_gts == 0 else -1, dtype=torch.long)
            return AssignResult(num_gts, gt_inds, overlaps.new_zeros((num_priors,)),
                                overlaps.new_full((num_priors,), -1, dtype=torch.long))

        max_overlaps, argmax_overlaps = overlaps.max(dim=0)  # best gt per prior
        gt_max_overlaps, gt_argmax_overlaps = overlaps.max(dim=1)  # best prior per gt

        gt_inds = overlaps.new_full((num_priors,), -1, dtype=torch.long)
        if isinstance(self.neg_iou_thr, (tuple, list)):
            low, high = self.neg_iou_thr
            gt_inds[(max_overlaps >= low) & (max_overlaps < high)] = 0
        else:
            gt_inds[(max_overlaps >= 0) & (max_overlaps < self.neg_iou_thr)] = 0
        positive = max_overlaps >= self.pos_iou_thr
        gt_inds[positive] = argmax_overlaps[positive] + 1

        if self.match_low_quality:
            # each gt whose best IoU reaches min_pos_iou claims its best prior(s)
            if self.gt_max_assign_all:
                claim_gt, claim_prior = (overlaps == gt_max_overlaps[:, None]).nonzero(as_tuple=True)
            else:
                claim_gt = torch.arange(num_gts, device=overlaps.device)
                claim_prior = gt_argmax_overlaps
            keep = gt_max_overlaps[claim_gt] >= self.min_pos_iou
            claim_gt, claim_prior = claim_gt[keep], claim_prior[keep]
            # a prior claimed by several gts goes to the last of them
            winner = torch.zeros_like(gt_inds).scatter_reduce(0, claim_prior, claim_gt + 1,
                                                              reduce="amax")
            gt_inds = torch.where(winner > 0, winner, gt_inds)

        return AssignResult(num_gts, gt_inds, max_overlaps, labels_of_assigned(gt_inds, gt_labels))
