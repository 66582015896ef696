"""YOLO detectors, their data preprocessor and conv-BN fusion for inference."""

from .data_preprocessor import YOLOv5DetDataPreprocessor
from .fuse import FusedConvAct, fuse_conv_bn
from .yolo_detector import YOLODetector

__all__ = ["FusedConvAct", "YOLODetector", "YOLOv5DetDataPreprocessor", "fuse_conv_bn"]
