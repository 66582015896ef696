"""Bricks: the layers and helpers every backbone, neck and head is built from, with
MMCV's names and arguments (``ConvModule``, ``build_norm_layer``, ``init_cfg``...)."""

from .activation import Clamp, HSigmoid, Swish
from .base_module import BaseModule, ModuleDict, ModuleList, Sequential
from .builders import (
    build_activation_layer,
    build_conv_layer,
    build_dropout,
    build_norm_layer,
    build_padding_layer,
    build_upsample_layer,
    infer_abbr,
    is_norm,
)
from .conv_module import ConvModule
from .deform_conv import DeformConv2dPack, ModulatedDeformConv2dPack
from .depthwise_separable_conv_module import DepthwiseSeparableConvModule
from .drop import Dropout, DropPath, drop_path
from .frozen_batch_norm import FrozenBatchNorm2d
from .pretrained import load_pretrained
from .scale import Scale
from .transformer import FFN, AdaptivePadding, PatchEmbed, PatchMerging
from .upsample import PixelShufflePack
from .weight_init import (
    INITIALIZERS,
    bias_init_with_prob,
    caffe2_xavier_init,
    constant_init,
    initialize,
    kaiming_init,
    normal_init,
    trunc_normal_init,
    uniform_init,
    xavier_init,
)

__all__ = [
    "FFN", "INITIALIZERS", "AdaptivePadding", "BaseModule", "Clamp", "ConvModule",
    "DeformConv2dPack", "DepthwiseSeparableConvModule", "DropPath", "Dropout",
    "FrozenBatchNorm2d", "HSigmoid", "ModulatedDeformConv2dPack", "ModuleDict", "ModuleList",
    "PatchEmbed", "PatchMerging", "PixelShufflePack", "Scale", "Sequential", "Swish",
    "bias_init_with_prob", "build_activation_layer", "build_conv_layer", "build_dropout",
    "build_norm_layer", "build_padding_layer", "build_upsample_layer", "caffe2_xavier_init",
    "constant_init", "drop_path", "infer_abbr", "initialize", "is_norm", "kaiming_init",
    "load_pretrained", "normal_init", "trunc_normal_init", "uniform_init", "xavier_init",
]
