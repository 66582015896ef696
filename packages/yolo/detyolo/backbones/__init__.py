"""YOLO backbones and the CSP blocks they (and the YOLO necks) are built from."""

from .base_backbone import BaseBackbone
from .csp_blocks import CSPLayer, CSPLayerWithTwoConv, DarknetBottleneck, SPPFBottleneck
from .scaling import make_divisible, make_round
from .yolov5_csp_darknet import YOLOv5CSPDarknet
from .yolov8_csp_darknet import YOLOv8CSPDarknet

__all__ = ["BaseBackbone", "CSPLayer", "CSPLayerWithTwoConv", "DarknetBottleneck",
           "SPPFBottleneck", "YOLOv5CSPDarknet", "YOLOv8CSPDarknet", "make_divisible",
           "make_round"]
