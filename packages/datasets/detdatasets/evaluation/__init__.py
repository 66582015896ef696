"""Detection metrics: COCO evaluation identical to pycocotools, CocoMetric and VOCMetric.

``coco_evaluate(gt, dets, iou_type)`` gives COCOeval's 12 summary numbers and
``evaluate_coco`` also its precision/recall arrays; ``eval_map`` is MMDetection's VOC
mAP. The metrics follow MMEngine's ``BaseMetric`` interface (process, compute_metrics,
evaluate) and write MMDetection's keys (``coco/bbox_mAP``, ``pascal_voc/mAP``...).
Importing this package does not import torch.
"""

from .base_metric import BaseMetric
from .coco_eval import CocoEvalParams, CocoEvalResult, coco_evaluate, evaluate_coco
from .coco_metric import CocoMetric
from .voc_eval import average_precision, eval_map, evaluate_voc
from .voc_metric import VOCMetric

__all__ = [
    "BaseMetric",
    "CocoEvalParams",
    "CocoEvalResult",
    "CocoMetric",
    "VOCMetric",
    "average_precision",
    "coco_evaluate",
    "eval_map",
    "evaluate_coco",
    "evaluate_voc",
]
