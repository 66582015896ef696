"""YOLO necks: the PAFPN family."""

from .base_yolo_neck import BaseYOLONeck
from .yolov5_pafpn import YOLOv5PAFPN
from .yolov8_pafpn import YOLOv8PAFPN

__all__ = ["BaseYOLONeck", "YOLOv5PAFPN", "YOLOv8PAFPN"]
