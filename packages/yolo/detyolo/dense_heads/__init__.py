"""YOLO heads: each a network (``*HeadModule``) and the head that owns priors, assignment,
losses and post-processing."""

from .base_yolo_head import BaseYOLOHead
from .postprocess import yolo_postprocess
from .yolov8_head import YOLOv8Head, YOLOv8HeadModule

__all__ = ["BaseYOLOHead", "YOLOv8Head", "YOLOv8HeadModule", "yolo_postprocess"]
