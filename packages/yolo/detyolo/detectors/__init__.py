"""YOLO detectors and their data preprocessor."""

from .data_preprocessor import YOLOv5DetDataPreprocessor
from .yolo_detector import YOLODetector

__all__ = ["YOLODetector", "YOLOv5DetDataPreprocessor"]
