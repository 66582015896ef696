"""Backbones: image -> multi-scale feature maps, with MMDetection's module names."""

from .mobilenet_v2 import InvertedResidual, MobileNetV2, make_divisible
from .regnet import RegNet
from .res_layer import ResLayer
from .resnet import BasicBlock, Bottleneck, ResNet, ResNetV1d
from .resnext import ResNeXt
from .swin import SwinTransformer, swin_converter
from .timm_backbone import TIMMBackbone
from .torchvision_backbone import TorchvisionBackbone

__all__ = [
    "BasicBlock", "Bottleneck", "InvertedResidual", "MobileNetV2", "RegNet", "ResLayer", "ResNeXt",
    "ResNet", "ResNetV1d", "SwinTransformer", "TIMMBackbone", "TorchvisionBackbone",
    "make_divisible", "swin_converter",
]
