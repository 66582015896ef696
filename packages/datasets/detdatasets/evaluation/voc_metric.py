"""VOCMetric: MMDetection 3.x's Pascal VOC mAP evaluator.

Keys as MMDetection writes them: ``pascal_voc/mAP`` (the mean over ``iou_thrs``, first)
and ``pascal_voc/AP50`` (one per threshold, rounded to 3 decimals). Like MMDetection's
VOCMetric, boxes use the VOC devkit's legacy convention (width = x2 - x1 + 1), objects in
``ignored_instances`` (VOC's "difficult") neither count nor penalise, and the default
mode is VOC2007's 11-point AP. A per-class table (gts, dets, recall, ap) goes to the log.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from .base_metric import BaseMetric, sample_field, to_numpy
from .tables import ascii_table
from .voc_eval import EVAL_MODES, VocClassResult, VocImage, evaluate_voc

logger = logging.getLogger(__name__)


class VOCMetric(BaseMetric):
    """Pascal VOC mean AP over classes.

    Args:
        iou_thrs: IoU threshold(s); one ``AP{thr*100}`` key each.
        scale_ranges: [(min, max), ...] of sqrt(box area); each range is evaluated on
            its own and reported as ``AP50@min-max`` (MMDetection cannot report them).
        metric: 'mAP' (MMDetection's 'recall' is not provided).
        proposal_nums: accepted for MMDetection configs; used only by 'recall'.
        eval_mode: '11points' (VOC2007) or 'area' (VOC2010 and later).
    """

    default_prefix = "pascal_voc"

    def __init__(
        self,
        iou_thrs: float | Sequence[float] = 0.5,
        scale_ranges: Sequence[tuple[float, float]] | None = None,
        metric: str | Sequence[str] = "mAP",
        proposal_nums: Sequence[int] = (100, 300, 1000),
        eval_mode: str = "11points",
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not isinstance(metric, str):
            if len(metric) != 1:
                raise ValueError(f"VOCMetric evaluates one metric, got {list(metric)}")
            metric = metric[0]
        if metric != "mAP":
            raise ValueError(f"VOCMetric: metric must be 'mAP', got {metric!r}")
        if eval_mode not in EVAL_MODES:
            raise ValueError(f"VOCMetric: eval_mode must be one of {EVAL_MODES}, got {eval_mode!r}")
        self.iou_thrs = [float(iou_thrs)] if isinstance(iou_thrs, int | float) else [float(t) for t in iou_thrs]
        self.scale_ranges = None if scale_ranges is None else [tuple(r) for r in scale_ranges]
        self.metric = metric
        self.proposal_nums = proposal_nums
        self.eval_mode = eval_mode

    def process(self, data_batch: Any, data_samples: Sequence) -> None:
        """Keep each sample's gt (ordinary and ignored) and predictions as NumPy arrays."""
        for sample in data_samples:
            gt = sample_field(sample, "gt_instances")
            ignored = sample_field(sample, "ignored_instances", None)
            pred = sample_field(sample, "pred_instances")
            self.results.append(
                VocImage(
                    gt_bboxes=to_numpy(sample_field(gt, "bboxes")).reshape(-1, 4),
                    gt_labels=to_numpy(sample_field(gt, "labels")).ravel(),
                    det_bboxes=to_numpy(sample_field(pred, "bboxes")).reshape(-1, 4),
                    det_scores=to_numpy(sample_field(pred, "scores")).ravel(),
                    det_labels=to_numpy(sample_field(pred, "labels")).ravel(),
                    ignored_bboxes=None if ignored is None else to_numpy(sample_field(ignored, "bboxes")).reshape(-1, 4),
                    ignored_labels=None if ignored is None else to_numpy(sample_field(ignored, "labels")).ravel(),
                )
            )

    def compute_metrics(self, results: list) -> dict[str, float]:
        classes = list((self.dataset_meta or {}).get("classes") or [])
        if not classes:
            raise ValueError("VOCMetric needs dataset_meta['classes'] (the engine sets it from the dataset)")
        self._warn_unusual_mode()
        metrics: dict[str, float] = {}
        mean_aps = []
        for iou_thr in self.iou_thrs:
            mean_ap, per_class = evaluate_voc(
                results, len(classes), self.scale_ranges, iou_thr, self.eval_mode, use_legacy_coordinate=True
            )
            name = f"AP{int(iou_thr * 100):02d}"
            logger.info("\n%s iou_thr: %s %s\n%s", "-" * 15, iou_thr, "-" * 15, self._table(classes, per_class, mean_ap))
            if self.scale_ranges is None:
                metrics[name] = round(mean_ap, 3)
                mean_aps.append(mean_ap)
            else:
                for (lo, hi), value in zip(self.scale_ranges, mean_ap):
                    metrics[f"{name}@{lo:g}-{hi:g}"] = round(value, 3)
                mean_aps.extend(mean_ap)
        return {"mAP": float(np.mean(mean_aps)), **metrics}

    def _table(self, classes: list[str], per_class: list[VocClassResult], mean_ap: float | list[float]) -> str:
        """MMDetection's summary: one table per scale range, a row per class, mAP last."""
        tables = []
        for s, scale_map in enumerate(np.atleast_1d(mean_ap)):
            rows = [["class", "gts", "dets", "recall", "ap"]]
            for name, result in zip(classes, per_class):
                recall = result.recall[s, -1] if result.num_dets else 0.0
                rows.append([name, int(result.num_gts[s]), result.num_dets, f"{recall:.3f}", f"{result.ap[s]:.3f}"])
            rows.append(["mAP", "", "", "", f"{scale_map:.3f}"])
            title = "" if self.scale_ranges is None else f"Scale range {self.scale_ranges[s]}\n"
            tables.append(title + ascii_table(rows, footer=True))
        return "\n".join(tables)

    def _warn_unusual_mode(self) -> None:
        dataset_type = (self.dataset_meta or {}).get("dataset_type")
        usual = {"VOC2007": "11points", "VOC2012": "area"}.get(dataset_type)
        if usual and usual != self.eval_mode:
            warnings.warn(f"Pascal {dataset_type} uses eval_mode '{usual}', but this VOCMetric uses '{self.eval_mode}'", stacklevel=3)
