"""BatchTaskAlignedAssigner: TOOD's task-aligned assignment for a whole padded batch
(YOLOv8, YOLOv6, PP-YOLOE; MMYOLO's name, Ultralytics' ``TaskAlignedAssigner`` rules).

For every (image, gt, prior) triple whose prior centre lies inside the gt box, the
alignment metric is ``score(gt class) ** alpha * IoU(pred box, gt) ** beta``. Each gt keeps
its ``topk`` priors by metric; a prior claimed by several gts goes to the one it overlaps
most. The class target of a positive is its gt's class with the soft value
``metric / max metric of that gt * max IoU of that gt``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from detyolo.losses.iou_loss import bbox_overlaps


class BatchTaskAlignedAssigner(nn.Module):
    """Args:
        num_classes: number of object classes.
        topk: positives kept per gt.
        alpha, beta: exponents of the classification score and of the IoU in the metric.
        eps: stability constant (Ultralytics and MMYOLO's YOLOv8 use 1e-9).
        use_ciou: measure the overlap with CIoU (clamped at 0) rather than IoU, as YOLOv8.
        min_gt_side: when set, gt sides shorter than this are widened to it (about the
            centre) for the inside-the-box test only, so tiny objects still get candidate
            priors; current Ultralytics uses its middle stride (16) here. None: off (MMYOLO).
    """

    def __init__(self, num_classes: int, topk: int = 13, alpha: float = 1.0, beta: float = 6.0,
                 eps: float = 1e-7, use_ciou: bool = False, min_gt_side: float | None = None):
        super().__init__()
        if topk < 1:
            raise ValueError(f"BatchTaskAlignedAssigner: topk must be >= 1, got {topk}")
        self.num_classes = num_classes
        self.topk = topk
        self.alpha = alpha
        self.beta = beta
        self.eps = eps
        self.use_ciou = use_ciou
        self.min_gt_side = min_gt_side

    @torch.no_grad()
    def forward(self, pred_bboxes: Tensor, pred_scores: Tensor, priors: Tensor, gt_labels: Tensor,
                gt_bboxes: Tensor, pad_bbox_flag: Tensor) -> dict[str, Tensor]:
        """Assign priors to ground truth.

        Args:
            pred_bboxes: (B, A, 4) predicted xyxy boxes in pixels.
            pred_scores: (B, A, C) predicted class probabilities (after sigmoid).
            priors: (A, 2+) prior centres (x, y) in pixels (further columns ignored).
            gt_labels: (B, N, 1) classes; gt_bboxes: (B, N, 4) xyxy; pad_bbox_flag: (B, N, 1),
                1 for real gts, 0 for padding.

        Returns:
            dict with assigned_labels (B, A) (num_classes for background), assigned_bboxes
            (B, A, 4), assigned_scores (B, A, C) soft targets, fg_mask_pre_prior (B, A) bool
            and assigned_gt_idxs (B, A).
        """
        batch_size, num_priors = pred_scores.shape[:2]
        num_gt = gt_bboxes.size(1)
        if num_gt == 0:
            return dict(
                assigned_labels=gt_bboxes.new_full((batch_size, num_priors), self.num_classes,
                                                   dtype=torch.long),
                assigned_bboxes=pred_bboxes.new_zeros(pred_bboxes.shape),
                assigned_scores=pred_scores.new_zeros(pred_scores.shape),
                fg_mask_pre_prior=pred_scores.new_zeros((batch_size, num_priors), dtype=torch.bool),
                assigned_gt_idxs=gt_bboxes.new_zeros((batch_size, num_priors), dtype=torch.long))

        valid_gt = pad_bbox_flag.bool()  # (B, N, 1)
        candidates = self._priors_inside_gts(priors[:, :2], gt_bboxes) & valid_gt  # (B, N, A)
        metrics, overlaps = self._alignment_metrics(pred_bboxes, pred_scores, gt_labels,
                                                    gt_bboxes, candidates)
        pos_mask = self._topk_mask(metrics, valid_gt) & candidates
        gt_idxs, fg_mask, pos_mask = self._resolve_multiple_gts(pos_mask, overlaps)

        labels, bboxes, scores = self._targets(gt_labels, gt_bboxes, gt_idxs, fg_mask)
        metrics = metrics * pos_mask
        overlaps = overlaps * pos_mask
        max_metric = metrics.amax(-1, keepdim=True)  # (B, N, 1)
        max_overlap = overlaps.amax(-1, keepdim=True)
        normalized = (metrics * max_overlap / (max_metric + self.eps)).amax(-2)  # (B, A)
        return dict(assigned_labels=labels, assigned_bboxes=bboxes,
                    assigned_scores=scores * normalized[..., None], fg_mask_pre_prior=fg_mask,
                    assigned_gt_idxs=gt_idxs)

    def _priors_inside_gts(self, centres: Tensor, gt_bboxes: Tensor) -> Tensor:
        """(B, N, A): prior centre strictly inside the gt box (by more than 1e-9)."""
        if self.min_gt_side is not None:
            centre = (gt_bboxes[..., :2] + gt_bboxes[..., 2:]) / 2
            half = (gt_bboxes[..., 2:] - gt_bboxes[..., :2]).clamp(min=self.min_gt_side) / 2
            gt_bboxes = torch.cat((centre - half, centre + half), -1)
        left_top = centres[None, None] - gt_bboxes[..., None, :2]      # (B, N, A, 2)
        right_bottom = gt_bboxes[..., None, 2:] - centres[None, None]
        return torch.cat((left_top, right_bottom), -1).amin(-1) > 1e-9

    def _alignment_metrics(self, pred_bboxes: Tensor, pred_scores: Tensor, gt_labels: Tensor,
                           gt_bboxes: Tensor, candidates: Tensor) -> tuple[Tensor, Tensor]:
        """Metric and overlap (B, N, A), computed for the candidate triples only (0 elsewhere)."""
        img, gt, prior = candidates.nonzero(as_tuple=True)
        scores = pred_scores[img, prior, gt_labels[img, gt, 0].long()]
        iou_mode = "ciou" if self.use_ciou else "iou"
        pair_overlaps = bbox_overlaps(pred_bboxes[img, prior], gt_bboxes[img, gt], iou_mode,
                                      "xyxy", eps=1e-7).clamp(min=0)
        overlaps = pred_bboxes.new_zeros(candidates.shape)
        metrics = pred_scores.new_zeros(candidates.shape)
        overlaps[img, gt, prior] = pair_overlaps.to(overlaps.dtype)
        metrics[img, gt, prior] = (scores.pow(self.alpha) * pair_overlaps.pow(self.beta)).to(
            metrics.dtype)
        return metrics, overlaps

    def _topk_mask(self, metrics: Tensor, valid_gt: Tensor) -> Tensor:
        """(B, N, A): the ``topk`` priors of each real gt by metric. A prior picked twice (the
        padded gts all pick prior 0) is dropped, as in Ultralytics."""
        topk = min(self.topk, metrics.size(-1))
        topk_idxs = metrics.topk(topk, dim=-1).indices
        topk_idxs = topk_idxs.masked_fill(~valid_gt, 0)
        counts = torch.zeros(metrics.shape, dtype=torch.int16, device=metrics.device)
        counts.scatter_add_(-1, topk_idxs, torch.ones_like(topk_idxs, dtype=torch.int16))
        return counts == 1

    @staticmethod
    def _resolve_multiple_gts(pos_mask: Tensor, overlaps: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """A prior positive for several gts keeps only the gt it overlaps most.
        Returns gt index (B, A), foreground mask (B, A) and the updated mask (B, N, A)."""
        multiple = pos_mask.sum(-2, keepdim=True) > 1  # (B, 1, A)
        best = torch.zeros_like(pos_mask).scatter_(1, overlaps.argmax(1, keepdim=True), True)
        pos_mask = torch.where(multiple, best, pos_mask)
        fg_mask, gt_idxs = pos_mask.max(-2)
        return gt_idxs, fg_mask, pos_mask

    def _targets(self, gt_labels: Tensor, gt_bboxes: Tensor, gt_idxs: Tensor,
                 fg_mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Labels (B, A) (background = num_classes), boxes (B, A, 4), one-hot scores (B, A, C)."""
        labels = gt_labels[..., 0].long().gather(1, gt_idxs)
        bboxes = gt_bboxes.gather(1, gt_idxs[..., None].expand(-1, -1, 4))
        scores = torch.zeros(*labels.shape, self.num_classes, dtype=gt_bboxes.dtype,
                             device=labels.device)
        scores.scatter_(2, labels[..., None], 1)
        scores = scores * fg_mask[..., None]
        labels = torch.where(fg_mask, labels, self.num_classes)
        return labels, bboxes, scores
