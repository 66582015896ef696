"""Detection metrics: COCO evaluation identical to pycocotools, CocoMetric and VOCMetric.

``coco_evaluate(gt, dets, iou_type)`` gives COCOeval's 12 summary numbers;
``evaluate_coco`` also the precision/recall arrays. The metrics follow MMEngine's
``BaseMetric`` interface (process / compute_metrics / evaluate) and MMDetection's keys.
"""

from .coco_eval import CocoEvalParams, CocoEvalResult, coco_evaluate, evaluate_coco

__all__ = ["CocoEvalParams", "CocoEvalResult", "coco_evaluate", "evaluate_coco"]
