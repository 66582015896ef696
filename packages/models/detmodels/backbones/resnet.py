"""ResNet (depths 18 to 152) and ResNetV1d, with MMDetection's module names and options.

Module names match MMDetection's, and torchvision's ImageNet ResNets (conv1, bn1,
layer1.0.conv1, layer1.0.downsample.0...), so either checkpoint loads as it is.

Styles: 'pytorch' puts the stride of a bottleneck on its 3x3 conv, 'caffe' on its first 1x1
conv. ResNetV1d (ResNet-D) replaces the 7x7 stem by three 3x3 convs (``stem``) and
downsamples shortcuts with average pooling.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.utils.checkpoint as checkpoint
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from detmodels.bricks import BaseModule, build_conv_layer, build_norm_layer

from .res_layer import ResLayer


def _run_block(block: nn.Module, residual_fn, x: torch.Tensor) -> torch.Tensor:
    """relu(residual_fn(x)), with activation checkpointing when the block asks for it."""
    if block.with_cp and x.requires_grad:
        out = checkpoint.checkpoint(residual_fn, x, use_reentrant=False)
    else:
        out = residual_fn(x)
    return block.relu(out)


class BasicBlock(BaseModule):
    """Two 3x3 convs plus the shortcut (ResNet-18/34)."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, dilation: int = 1,
                 downsample: nn.Module | None = None, style: str = "pytorch", with_cp: bool = False,
                 conv_cfg: dict | None = None,
                 norm_cfg: dict = dict(type="BN"),  # noqa: B006 - never mutated
                 dcn: dict | None = None, init_cfg: dict | list[dict] | None = None):
        super().__init__(init_cfg)
        if dcn is not None:
            raise ValueError("BasicBlock (ResNet-18/34) has no DCN variant; use depth >= 50 for dcn")
        self.norm1_name, norm1 = build_norm_layer(norm_cfg, planes, postfix=1)
        self.norm2_name, norm2 = build_norm_layer(norm_cfg, planes, postfix=2)
        self.conv1 = build_conv_layer(conv_cfg, inplanes, planes, 3, stride=stride,
                                      padding=dilation, dilation=dilation, bias=False)
        self.add_module(self.norm1_name, norm1)
        self.conv2 = build_conv_layer(conv_cfg, planes, planes, 3, padding=1, bias=False)
        self.add_module(self.norm2_name, norm2)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride, self.dilation, self.with_cp = stride, dilation, with_cp

    @property
    def norm1(self) -> nn.Module:
        return getattr(self, self.norm1_name)

    @property
    def norm2(self) -> nn.Module:
        return getattr(self, self.norm2_name)

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.norm1(self.conv1(x)))
        out = self.norm2(self.conv2(out))
        return out + (x if self.downsample is None else self.downsample(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _run_block(self, self._residual, x)


class Bottleneck(BaseModule):
    """1x1 reduce, 3x3 (grouped for ResNeXt, deformable with ``dcn``), 1x1 expand, plus the
    shortcut.

    The 3x3 width is ``planes`` for groups=1, else floor(planes * base_width / base_channels)
    * groups (ResNeXt's "32x4d": groups=32, base_width=4). Output channels are
    planes * expansion (4; RegNet passes expansion=1).
    """

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, dilation: int = 1,
                 downsample: nn.Module | None = None, style: str = "pytorch", with_cp: bool = False,
                 conv_cfg: dict | None = None,
                 norm_cfg: dict = dict(type="BN"),  # noqa: B006 - never mutated
                 dcn: dict | None = None, groups: int = 1, base_width: int = 4,
                 base_channels: int = 64, expansion: int | None = None,
                 init_cfg: dict | list[dict] | None = None):
        super().__init__(init_cfg)
        if style not in ("pytorch", "caffe"):
            raise ValueError(f"Bottleneck: style must be 'pytorch' or 'caffe', got {style!r}")
        if expansion is not None:
            self.expansion = expansion
        self.inplanes, self.planes, self.stride, self.dilation = inplanes, planes, stride, dilation
        self.style, self.with_cp = style, with_cp
        self.conv_cfg, self.norm_cfg = conv_cfg, norm_cfg
        self.dcn, self.with_dcn = dcn, dcn is not None
        self.conv1_stride, self.conv2_stride = (1, stride) if style == "pytorch" else (stride, 1)
        width = planes if groups == 1 else math.floor(planes * (base_width / base_channels)) * groups
        out_channels = planes * self.expansion

        self.norm1_name, norm1 = build_norm_layer(norm_cfg, width, postfix=1)
        self.norm2_name, norm2 = build_norm_layer(norm_cfg, width, postfix=2)
        self.norm3_name, norm3 = build_norm_layer(norm_cfg, out_channels, postfix=3)
        self.conv1 = build_conv_layer(conv_cfg, inplanes, width, kernel_size=1,
                                      stride=self.conv1_stride, bias=False)
        self.add_module(self.norm1_name, norm1)
        self.conv2 = build_conv_layer(self._conv2_cfg(), width, width, kernel_size=3,
                                      stride=self.conv2_stride, padding=dilation, dilation=dilation,
                                      groups=groups, bias=False)
        self.add_module(self.norm2_name, norm2)
        self.conv3 = build_conv_layer(conv_cfg, width, out_channels, kernel_size=1, bias=False)
        self.add_module(self.norm3_name, norm3)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def _conv2_cfg(self) -> dict | None:
        if self.dcn is None:
            return self.conv_cfg
        if self.conv_cfg is not None:
            raise ValueError("Bottleneck: conv_cfg must be None when dcn is set")
        dcn = dict(self.dcn)
        if dcn.pop("fallback_on_stride", False):
            raise ValueError("Bottleneck: dcn fallback_on_stride=True is not supported")
        return dcn

    @property
    def norm1(self) -> nn.Module:
        return getattr(self, self.norm1_name)

    @property
    def norm2(self) -> nn.Module:
        return getattr(self, self.norm2_name)

    @property
    def norm3(self) -> nn.Module:
        return getattr(self, self.norm3_name)

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.norm1(self.conv1(x)))
        out = self.relu(self.norm2(self.conv2(out)))
        out = self.norm3(self.conv3(out))
        return out + (x if self.downsample is None else self.downsample(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _run_block(self, self._residual, x)


class ResNet(BaseModule):
    """ResNet backbone: (N, C, H, W) -> tuple of the ``out_indices`` stage outputs, strides
    4, 8, 16, 32 for stages 0-3 (with default strides and dilations).

    Args:
        depth: 18, 34, 50, 101 or 152.
        in_channels: input image channels.
        stem_channels: stem width (default base_channels); base_channels: stage-1 width.
        num_stages: 1 to 4.
        strides, dilations: per stage; a dilated stage keeps its resolution (stride 1).
        out_indices: which stages to return.
        style: 'pytorch' or 'caffe' (where the bottleneck's stride sits).
        deep_stem: three 3x3 convs instead of the 7x7 (ResNetV1c/d).
        avg_down: average-pool shortcut downsampling (ResNetV1d).
        frozen_stages: freeze the stem and stages 1..frozen_stages (-1: nothing frozen):
            no gradients, and their norm layers stay in eval mode.
        norm_cfg: norm layers; norm_eval: keep every BatchNorm in eval mode while training.
        dcn, stage_with_dcn: a deformable 3x3 conv (e.g. dict(type='DCNv2', deform_groups=1,
            fallback_on_stride=False)) in the stages flagged True.
        with_cp: activation checkpointing in the blocks (saves memory, costs time).
        zero_init_residual: start each block's last norm at zero (the block starts as identity).
        init_cfg: None gives Kaiming convs and unit norms; e.g.
            dict(type='Pretrained', checkpoint='/path/resnet50.pth') loads weights.
    """

    arch_settings = {
        18: (BasicBlock, (2, 2, 2, 2)),
        34: (BasicBlock, (3, 4, 6, 3)),
        50: (Bottleneck, (3, 4, 6, 3)),
        101: (Bottleneck, (3, 4, 23, 3)),
        152: (Bottleneck, (3, 8, 36, 3)),
    }

    def __init__(self, depth: int, in_channels: int = 3, stem_channels: int | None = None,
                 base_channels: int = 64, num_stages: int = 4,
                 strides: Sequence[int] = (1, 2, 2, 2), dilations: Sequence[int] = (1, 1, 1, 1),
                 out_indices: Sequence[int] = (0, 1, 2, 3), style: str = "pytorch",
                 deep_stem: bool = False, avg_down: bool = False, frozen_stages: int = -1,
                 conv_cfg: dict | None = None,
                 norm_cfg: dict = dict(type="BN", requires_grad=True),  # noqa: B006 - never mutated
                 norm_eval: bool = True, dcn: dict | None = None,
                 stage_with_dcn: Sequence[bool] = (False, False, False, False),
                 with_cp: bool = False, zero_init_residual: bool = True,
                 init_cfg: dict | list[dict] | None = None):
        super().__init__(init_cfg)
        self.block, stage_blocks = self._architecture(depth)
        self.depth = depth
        self._check_stage_arguments(num_stages, strides, dilations, out_indices, dcn, stage_with_dcn)
        block_init_cfg = self._default_init_cfgs(init_cfg, zero_init_residual)
        self.zero_init_residual = zero_init_residual
        self.stem_channels = stem_channels or base_channels
        self.base_channels, self.num_stages = base_channels, num_stages
        self.strides, self.dilations, self.out_indices = strides, dilations, out_indices
        self.style, self.deep_stem, self.avg_down = style, deep_stem, avg_down
        self.frozen_stages, self.norm_eval, self.with_cp = frozen_stages, norm_eval, with_cp
        self.conv_cfg, self.norm_cfg = conv_cfg, norm_cfg
        self.dcn, self.stage_with_dcn = dcn, stage_with_dcn
        self.stage_blocks = stage_blocks[:num_stages]

        self._make_stem_layer(in_channels, self.stem_channels)
        self.inplanes = self.stem_channels
        self.res_layers = []
        for i, num_blocks in enumerate(self.stage_blocks):
            planes, stage_kwargs = self._stage_planes(i)
            res_layer = self.make_res_layer(
                block=self.block, inplanes=self.inplanes, planes=planes, num_blocks=num_blocks,
                stride=strides[i], dilation=dilations[i], style=style, avg_down=avg_down,
                with_cp=with_cp, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                dcn=dcn if stage_with_dcn[i] else None, init_cfg=block_init_cfg, **stage_kwargs)
            self.inplanes = planes * stage_kwargs.get("expansion", self.block.expansion)
            self.add_module(f"layer{i + 1}", res_layer)
            self.res_layers.append(f"layer{i + 1}")
        self._freeze_stages()
        self.feat_dim = self.inplanes

    def _architecture(self, depth) -> tuple[type[nn.Module], tuple[int, ...]]:
        """``(block class, blocks per stage)`` of this depth."""
        if depth not in self.arch_settings:
            raise KeyError(f"{type(self).__name__}: invalid depth {depth}; choose one of "
                           f"{sorted(self.arch_settings)}")
        return self.arch_settings[depth]

    def _stage_planes(self, index: int) -> tuple[int, dict]:
        """``(planes, extra block arguments)`` of stage ``index``: widths double per stage."""
        return self.base_channels * 2**index, {}

    @staticmethod
    def _check_stage_arguments(num_stages, strides, dilations, out_indices, dcn, stage_with_dcn):
        if not 1 <= num_stages <= 4:
            raise ValueError(f"num_stages must be 1 to 4, got {num_stages}")
        if not len(strides) == len(dilations) == num_stages:
            raise ValueError(f"strides {tuple(strides)} and dilations {tuple(dilations)} must have "
                             f"num_stages={num_stages} entries")
        if max(out_indices) >= num_stages:
            raise ValueError(f"out_indices {tuple(out_indices)} must be below num_stages={num_stages}")
        if dcn is not None and len(stage_with_dcn) != num_stages:
            raise ValueError(f"stage_with_dcn {tuple(stage_with_dcn)} must have num_stages="
                             f"{num_stages} entries")

    def _default_init_cfgs(self, init_cfg, zero_init_residual: bool) -> dict | None:
        """Without an init_cfg: Kaiming convs, unit norms, and (with zero_init_residual) the
        init_cfg that zeroes each block's last norm; returns that block init_cfg."""
        if init_cfg is not None:
            return None
        self.init_cfg = [dict(type="Kaiming", layer="Conv2d"),
                         dict(type="Constant", val=1, layer=["_BatchNorm", "GroupNorm"])]
        if not zero_init_residual:
            return None
        last_norm = "norm2" if self.block is BasicBlock else "norm3"
        return dict(type="Constant", val=0, override=dict(name=last_norm))

    def make_res_layer(self, **kwargs) -> ResLayer:
        return ResLayer(**kwargs)

    @property
    def norm1(self) -> nn.Module:
        return getattr(self, self.norm1_name)

    def _make_stem_layer(self, in_channels: int, stem_channels: int) -> None:
        if self.deep_stem:
            half = stem_channels // 2
            layers = []
            for cin, cout, stride in ((in_channels, half, 2), (half, half, 1), (half, stem_channels, 1)):
                layers += [build_conv_layer(self.conv_cfg, cin, cout, kernel_size=3, stride=stride,
                                            padding=1, bias=False),
                           build_norm_layer(self.norm_cfg, cout)[1], nn.ReLU(inplace=True)]
            self.stem = nn.Sequential(*layers)
        else:
            self.conv1 = build_conv_layer(self.conv_cfg, in_channels, stem_channels, kernel_size=7,
                                          stride=2, padding=3, bias=False)
            self.norm1_name, norm1 = build_norm_layer(self.norm_cfg, stem_channels, postfix=1)
            self.add_module(self.norm1_name, norm1)
            self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

    def _stem_modules(self) -> list[nn.Module]:
        return [self.stem] if self.deep_stem else [self.conv1, self.norm1]

    def _freeze_stages(self) -> None:
        frozen = self._stem_modules() if self.frozen_stages >= 0 else []
        frozen += [getattr(self, f"layer{i}") for i in range(1, self.frozen_stages + 1)]
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        if self.deep_stem:
            x = self.stem(x)
        else:
            x = self.relu(self.norm1(self.conv1(x)))
        return self.maxpool(x)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self._stem(x)
        outs = []
        for i, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def train(self, mode: bool = True) -> ResNet:
        """Train mode, except frozen stages and (with norm_eval) every BatchNorm."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self


class ResNetV1d(ResNet):
    """ResNet-D: deep 3x3 stem and average-pool shortcut downsampling."""

    def __init__(self, **kwargs):
        super().__init__(deep_stem=True, avg_down=True, **kwargs)
