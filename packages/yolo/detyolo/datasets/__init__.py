"""YOLO datasets: YOLOv5CocoDataset with MMYOLO's evaluation batch shapes (BatchShapePolicy)."""

from detyolo.datasets.batch_shapes import BatchShapePolicy
from detyolo.datasets.yolov5_coco import YOLOv5CocoDataset

__all__ = ["BatchShapePolicy", "YOLOv5CocoDataset"]
