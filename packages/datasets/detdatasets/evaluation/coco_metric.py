"""CocoMetric: MMDetection 3.x's COCO evaluator (bbox, segm, proposal recall) on our COCOeval.

Same arguments, same metric names (``coco/bbox_mAP``, ``coco/bbox_mAP_50``, ...,
``coco/AR@100`` for proposals), same rounding to 3 decimals as MMDetection, plus
``coco/bbox_mAP_unrounded`` that keeps full precision. Predictions are turned into COCO
results (xyxy -> xywh, label index -> category id of the annotation file) in memory;
with ``outfile_prefix`` they are also written to ``<prefix>.bbox.json`` /
``<prefix>.segm.json``, and ``format_only`` writes them without evaluating.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .base_metric import BaseMetric, sample_field, to_numpy
from .coco_data import CocoGroundTruth, load_ground_truth
from .coco_eval import CocoEvalParams, CocoEvalResult, evaluate_coco
from .proposal_recall import proposal_recalls
from .tables import ascii_table

logger = logging.getLogger(__name__)

METRICS = ("bbox", "segm", "proposal", "proposal_fast")
STAT_INDEX = {
    "mAP": 0, "mAP_50": 1, "mAP_75": 2, "mAP_s": 3, "mAP_m": 4, "mAP_l": 5,
    "AR@100": 6, "AR@300": 7, "AR@1000": 8, "AR_s@1000": 9, "AR_m@1000": 10, "AR_l@1000": 11,
}  # fmt: skip
DETECTION_ITEMS = ("mAP", "mAP_50", "mAP_75", "mAP_s", "mAP_m", "mAP_l")
PROPOSAL_ITEMS = ("AR@100", "AR@300", "AR@1000", "AR_s@1000", "AR_m@1000", "AR_l@1000")


class CocoMetric(BaseMetric):
    """COCO AP/AR of detections, instance masks or class-agnostic proposals.

    Args:
        ann_file: COCO annotation file. Without it, ground truth comes from each data
            sample's ``instances`` (the dataset's raw annotations: ``bbox`` xyxy,
            ``bbox_label``, ``ignore_flag``, optional ``mask``), as in MMDetection.
        metric: 'bbox', 'segm', 'proposal' (COCOeval's AR without categories),
            'proposal_fast' (MMDetection's greedy recall, ``AR@N`` unrounded) or a list.
        classwise: also report and log the AP of every category.
        proposal_nums: COCOeval's maxDets (for every metric, as MMDetection sets it) and
            the N of 'proposal_fast'.
        iou_thrs: IoU thresholds; None for 0.50:0.05:0.95.
        metric_items: which numbers to report, e.g. ['mAP', 'mAP_50'] or ['AR@100'].
        format_only: only write the result files (needs ``outfile_prefix``).
        outfile_prefix: where result files go, e.g. 'work_dir/results' ->
            'work_dir/results.bbox.json'. None: nothing is written.
        sort_categories: order categories by id (Objects365's files list them unsorted).
        backend_args, file_client_args, use_mp_eval: accepted for MMDetection configs;
            files are read locally and the evaluation is vectorised, so they change nothing.
    """

    default_prefix = "coco"

    def __init__(
        self,
        ann_file: str | os.PathLike | None = None,
        metric: str | Sequence[str] = "bbox",
        classwise: bool = False,
        proposal_nums: Sequence[int] = (100, 300, 1000),
        iou_thrs: float | Sequence[float] | None = None,
        metric_items: Sequence[str] | None = None,
        format_only: bool = False,
        outfile_prefix: str | None = None,
        file_client_args: dict | None = None,
        backend_args: dict | None = None,
        collect_device: str = "cpu",
        prefix: str | None = None,
        sort_categories: bool = False,
        use_mp_eval: bool = False,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.metrics = [metric] if isinstance(metric, str) else list(metric)
        for name in self.metrics:
            if name not in METRICS:
                raise ValueError(f"CocoMetric: metric must be one of {METRICS}, got {name!r}")
        for item in metric_items or ():
            if item not in STAT_INDEX:
                raise ValueError(f"CocoMetric: metric item {item!r} is not one of {list(STAT_INDEX)}")
        if format_only and outfile_prefix is None:
            raise ValueError("CocoMetric: format_only=True needs an outfile_prefix to write the result files to")
        self.classwise = classwise
        self.proposal_nums = list(proposal_nums)
        self.iou_thrs = np.atleast_1d(CocoEvalParams().iou_thrs if iou_thrs is None else np.asarray(iou_thrs, float))
        self.metric_items = metric_items
        self.format_only = format_only
        self.outfile_prefix = outfile_prefix
        self.sort_categories = sort_categories
        self._ground_truth = _sorted_categories(load_ground_truth(ann_file), sort_categories) if ann_file else None

    def process(self, data_batch: Any, data_samples: Sequence) -> None:
        """Keep each sample's predictions (as NumPy, masks as RLE) and image facts."""
        for sample in data_samples:
            pred = sample_field(sample, "pred_instances")
            result = {
                "img_id": sample_field(sample, "img_id"),
                "bboxes": to_numpy(sample_field(pred, "bboxes")).astype(np.float64).reshape(-1, 4),
                "scores": to_numpy(sample_field(pred, "scores")).astype(np.float64).ravel(),
                "labels": to_numpy(sample_field(pred, "labels")).astype(np.int64).ravel(),
            }
            masks = sample_field(pred, "masks", None)
            if masks is not None:
                result["masks"] = encode_masks(masks)
            mask_scores = sample_field(pred, "mask_scores", None)
            if mask_scores is not None:
                result["mask_scores"] = to_numpy(mask_scores).astype(np.float64).ravel()
            height, width = sample_field(sample, "ori_shape")[:2]
            gt = {"img_id": result["img_id"], "width": int(width), "height": int(height)}
            if self._ground_truth is None:
                gt["anns"] = sample_field(sample, "instances")
            self.results.append((gt, result))

    def compute_metrics(self, results: list) -> dict[str, float]:
        gts, preds = zip(*results) if results else ((), ())
        ground_truth = self._ground_truth
        if ground_truth is None:
            ground_truth = load_ground_truth(self._gt_from_samples(gts))
        cat_ids = self._category_ids(ground_truth)
        result_files = self._to_coco_results(preds, cat_ids)
        if self.outfile_prefix is not None:
            self._write(result_files)
        if self.format_only:
            logger.info("CocoMetric: results written under %s", os.path.dirname(os.path.abspath(self.outfile_prefix)))
            return {}

        metrics: dict[str, float] = {}
        for metric in self.metrics:
            if metric == "proposal_fast":
                metrics.update(self._fast_recall(ground_truth, preds))
                continue
            iou_type = "bbox" if metric == "proposal" else metric
            if iou_type not in result_files:
                raise ValueError("CocoMetric: metric 'segm' needs predicted masks (pred_instances.masks)")
            if not result_files[iou_type]:
                logger.warning("CocoMetric: there are no %s predictions for the whole dataset", metric)
            params = CocoEvalParams(
                img_ids=ground_truth.img_ids.tolist(),
                cat_ids=cat_ids,
                iou_thrs=self.iou_thrs,
                max_dets=self.proposal_nums,
                use_cats=metric != "proposal",
            )
            evaluation = evaluate_coco(ground_truth, result_files[iou_type], iou_type, params)
            logger.info("Evaluating %s...\n%s", metric, evaluation.summary())
            metrics.update(self._report(metric, evaluation))
        return metrics

    def _report(self, metric: str, evaluation: CocoEvalResult) -> dict[str, float]:
        stats = evaluation.stats
        if metric == "proposal":
            return {item: round(float(stats[STAT_INDEX[item]]), 3) for item in self.metric_items or PROPOSAL_ITEMS}
        report = {f"{metric}_{item}": round(float(stats[STAT_INDEX[item]]), 3) for item in self.metric_items or DETECTION_ITEMS}
        report[f"{metric}_mAP_unrounded"] = float(stats[0])
        if self.classwise:  # after the summary keys, so that save_best='auto' still picks bbox_mAP
            report.update(self._classwise(evaluation))
        logger.info("%s_mAP_copypaste: %s", metric, " ".join(f"{s:.3f}" for s in stats[:6]))
        return report

    def _classwise(self, evaluation: CocoEvalResult) -> dict[str, float]:
        """Log a table of per-category AP (all IoUs, 0.5, 0.75, small/medium/large)."""
        columns = [
            evaluation.category_ap(),
            evaluation.category_ap(iou_thr=0.5),
            evaluation.category_ap(iou_thr=0.75),
            *(evaluation.category_ap(area=area) for area in ("small", "medium", "large")),
        ]
        rows = [["category", *DETECTION_ITEMS]]
        rows += [[name, *(f"{round(float(c[k]), 3)}" for c in columns)] for k, name in enumerate(evaluation.cat_names)]
        logger.info("\n%s", ascii_table(rows))
        return {f"{name}_precision": round(float(columns[0][k]), 3) for k, name in enumerate(evaluation.cat_names)}

    def _fast_recall(self, ground_truth: CocoGroundTruth, preds: Sequence[dict]) -> dict[str, float]:
        """AR@N (mean recall over ``iou_thrs``) of each image's first N boxes, crowd and
        ignored gts left out, every category counted (MMDetection's fast_eval_recall)."""
        proposals_of = {pred["img_id"]: pred["bboxes"] for pred in preds}
        usable = np.flatnonzero(~ground_truth.ignore & (ground_truth.iscrowd == 0))
        by_image = usable[np.argsort(ground_truth.image_ids[usable], kind="stable")]  # file order within an image
        xyxy = ground_truth.boxes[by_image]
        xyxy[:, 2:] += xyxy[:, :2]
        sorted_ids = ground_truth.image_ids[by_image]
        bounds = zip(np.searchsorted(sorted_ids, ground_truth.img_ids, "left"), np.searchsorted(sorted_ids, ground_truth.img_ids, "right"))
        gt_boxes = [xyxy[lo:hi] for lo, hi in bounds]
        proposals = [proposals_of.get(img, np.zeros((0, 4))) for img in ground_truth.img_ids.tolist()]
        average_recall = proposal_recalls(gt_boxes, proposals, self.proposal_nums, self.iou_thrs).mean(axis=1)
        logger.info("".join(f"\nAR@{num}\t{ar:.4f}" for num, ar in zip(self.proposal_nums, average_recall)))
        return {f"AR@{num}": float(ar) for num, ar in zip(self.proposal_nums, average_recall)}

    def _category_ids(self, ground_truth: CocoGroundTruth) -> list[int]:
        """Category id of each label index: the dataset's classes, in annotation-file order."""
        classes = (self.dataset_meta or {}).get("classes")
        if classes is None:
            return ground_truth.cat_ids.tolist()
        unknown = sorted(set(classes) - set(ground_truth.cat_names))
        if unknown:
            raise ValueError(f"CocoMetric: classes {unknown} of dataset_meta are not categories of {ground_truth.source}")
        wanted = set(classes)
        return [int(c) for c, name in zip(ground_truth.cat_ids, ground_truth.cat_names) if name in wanted]

    def _to_coco_results(self, preds: Sequence[dict], cat_ids: list[int]) -> dict[str, list[dict]]:
        """COCO result dicts per kind; segm results carry no bbox so that area is the mask's."""
        files: dict[str, list[dict]] = {"bbox": []}
        if preds and "masks" in preds[0]:
            files["segm"] = []
        cat_ids_array = np.asarray(cat_ids, dtype=np.int64)
        for pred in preds:
            labels = pred["labels"]
            if len(labels) and (labels.min() < 0 or labels.max() >= len(cat_ids)):
                raise ValueError(
                    f"CocoMetric: image {pred['img_id']} has a predicted label {int(labels.max())} but there are "
                    f"only {len(cat_ids)} categories (is the model's num_classes right?)"
                )
            boxes = pred["bboxes"].copy()
            boxes[:, 2:] -= boxes[:, :2]
            categories = cat_ids_array[labels].tolist()
            scores = pred["scores"].tolist()
            files["bbox"] += [
                {"image_id": pred["img_id"], "bbox": box, "score": score, "category_id": cat}
                for box, score, cat in zip(boxes.tolist(), scores, categories)
            ]
            if "segm" in files:
                mask_scores = pred.get("mask_scores", pred["scores"]).tolist()
                files["segm"] += [
                    {"image_id": pred["img_id"], "segmentation": rle, "score": score, "category_id": cat}
                    for rle, score, cat in zip(pred["masks"], mask_scores, categories)
                ]
        return files

    def _write(self, result_files: dict[str, list[dict]]) -> None:
        directory = os.path.dirname(os.path.abspath(self.outfile_prefix))
        os.makedirs(directory, exist_ok=True)
        for kind, records in result_files.items():
            if kind == "segm":  # MMDetection's segm file keeps each result's box
                bbox_of = result_files["bbox"]
                records = [dict(r, bbox=b["bbox"]) for r, b in zip(records, bbox_of)]
            with open(f"{self.outfile_prefix}.{kind}.json", "w", encoding="utf-8") as f:
                json.dump(records, f)

    def _gt_from_samples(self, gts: Sequence[dict]) -> dict:
        """A COCO annotation dict from the samples' raw instances (no ann_file given)."""
        classes = (self.dataset_meta or {}).get("classes")
        if classes is None:
            raise ValueError("CocoMetric without ann_file needs dataset_meta['classes'] to name the categories")
        annotations = []
        for gt in gts:
            for ann in gt["anns"]:
                x1, y1, x2, y2 = (float(v) for v in ann["bbox"])
                record = {
                    "id": len(annotations) + 1,  # COCOeval ignores matches to id 0
                    "image_id": gt["img_id"],
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "iscrowd": int(ann.get("ignore_flag", 0)),
                    "category_id": int(ann["bbox_label"]),
                    "area": (x2 - x1) * (y2 - y1),
                }
                if ann.get("mask") is not None:
                    record["segmentation"] = _json_rle(ann["mask"])
                annotations.append(record)
        images = [{"id": g["img_id"], "width": g["width"], "height": g["height"]} for g in gts]
        categories = [{"id": i, "name": name} for i, name in enumerate(classes)]
        return {"images": images, "annotations": annotations, "categories": categories}


def encode_masks(masks: Any) -> list[dict]:
    """(N, H, W) binary masks (tensor, array or ``.masks`` holder) or RLEs as JSON-ready RLEs."""
    if isinstance(masks, list | tuple) and (not masks or isinstance(masks[0], dict)):
        return [_json_rle(m) for m in masks]
    from pycocotools import mask as mask_utils

    array = to_numpy(getattr(masks, "masks", masks))
    if array.ndim != 3:
        raise ValueError(f"pred_instances.masks must be (N, H, W) binary masks or a list of RLEs, got shape {array.shape}")
    rles = mask_utils.encode(np.asfortranarray(array.transpose(1, 2, 0).astype(np.uint8))) if len(array) else []
    return [_json_rle(rle) for rle in rles]


def _json_rle(rle: Any) -> Any:
    """An RLE with str counts (JSON cannot hold bytes); polygons pass through."""
    if isinstance(rle, dict) and isinstance(rle.get("counts"), bytes):
        return {"size": list(rle["size"]), "counts": rle["counts"].decode()}
    return rle


def _sorted_categories(ground_truth: CocoGroundTruth, sort: bool) -> CocoGroundTruth:
    if sort:
        order = np.argsort(ground_truth.cat_ids, kind="stable")
        ground_truth.cat_ids = ground_truth.cat_ids[order]
        ground_truth.cat_names = [ground_truth.cat_names[i] for i in order]
    return ground_truth
