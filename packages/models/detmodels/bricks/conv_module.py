"""ConvModule: convolution, normalisation and activation in a configurable order, the
building block of most heads and necks (MMCV's ConvModule, same arguments and
sub-module names ``conv``, ``bn``/``gn``..., ``activate``)."""

from __future__ import annotations

import warnings

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.instancenorm import _InstanceNorm

from .builders import (
    build_activation_layer,
    build_conv_layer,
    build_norm_layer,
    build_padding_layer,
)
from .weight_init import constant_init, kaiming_init

_TORCH_PADDING_MODES = ("zeros", "circular")


class ConvModule(nn.Module):
    """conv -> norm -> act (or another ``order`` of the three).

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation, groups: as nn.Conv2d.
        bias: True, False, or 'auto' (a bias only when there is no norm layer).
        conv_cfg: the convolution (None: Conv2d; e.g. dict(type='DCNv2')).
        norm_cfg: the norm layer (None: none), e.g. dict(type='BN', requires_grad=True).
        act_cfg: the activation (None: none); default ReLU.
        inplace: default ``inplace`` of activations that take one.
        with_spectral_norm: wrap the conv in spectral normalisation.
        padding_mode: 'zeros' or 'circular' (done by the conv), or a registered padding
            layer ('reflect', 'replicate') applied before it.
        order: a permutation of ('conv', 'norm', 'act'); the norm layer gets in_channels
            when it comes before the conv.
    """

    _abbr_ = "conv_block"

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                 dilation: int | tuple[int, int] = 1, groups: int = 1, bias: bool | str = "auto",
                 conv_cfg: dict | None = None, norm_cfg: dict | None = None,
                 act_cfg: dict | None = dict(type="ReLU"),  # noqa: B006 - MMCV's default, never mutated
                 inplace: bool = True, with_spectral_norm: bool = False,
                 padding_mode: str = "zeros", order: tuple[str, str, str] = ("conv", "norm", "act")):
        super().__init__()
        for name, cfg in (("conv_cfg", conv_cfg), ("norm_cfg", norm_cfg), ("act_cfg", act_cfg)):
            if cfg is not None and not isinstance(cfg, dict):
                raise TypeError(f"ConvModule: {name} must be a dict or None, got {cfg!r}")
        if not (isinstance(order, tuple) and len(order) == 3 and set(order) == {"conv", "norm", "act"}):
            raise ValueError(f"ConvModule: order must be a tuple ordering 'conv', 'norm' and 'act', "
                             f"got {order!r}")
        if bias not in (True, False, "auto"):
            raise ValueError(f"ConvModule: bias must be True, False or 'auto', got {bias!r}")
        self.conv_cfg, self.norm_cfg, self.act_cfg = conv_cfg, norm_cfg, act_cfg
        self.inplace = inplace
        self.with_spectral_norm = with_spectral_norm
        self.with_explicit_padding = padding_mode not in _TORCH_PADDING_MODES
        self.order = order
        self.with_norm = norm_cfg is not None
        self.with_activation = act_cfg is not None
        self.with_bias = (not self.with_norm) if bias == "auto" else bias

        if self.with_explicit_padding:
            self.padding_layer = build_padding_layer(dict(type=padding_mode), padding)
        conv_kwargs = dict(stride=stride, padding=0 if self.with_explicit_padding else padding,
                           dilation=dilation, groups=groups, bias=self.with_bias)
        if padding_mode == "circular":
            conv_kwargs["padding_mode"] = "circular"
        self.conv = build_conv_layer(conv_cfg, in_channels, out_channels, kernel_size, **conv_kwargs)
        self.in_channels = self.conv.in_channels
        self.out_channels = self.conv.out_channels
        self.kernel_size = self.conv.kernel_size
        self.stride = self.conv.stride
        self.padding = padding
        self.dilation = self.conv.dilation
        self.transposed = getattr(self.conv, "transposed", False)
        self.output_padding = getattr(self.conv, "output_padding", (0, 0))
        self.groups = self.conv.groups
        if with_spectral_norm:
            self.conv = nn.utils.spectral_norm(self.conv)

        if self.with_norm:
            norm_channels = out_channels if order.index("norm") > order.index("conv") else in_channels
            self.norm_name, norm = build_norm_layer(norm_cfg, norm_channels)
            self.add_module(self.norm_name, norm)
            if self.with_bias and isinstance(norm, (_BatchNorm, _InstanceNorm)):
                warnings.warn("ConvModule: a conv bias before batch/instance norm is unnecessary",
                              stacklevel=2)
        else:
            self.norm_name = None

        if self.with_activation:
            self.activate = build_activation_layer(act_cfg, inplace=inplace)
        self.init_weights()

    @property
    def norm(self) -> nn.Module | None:
        return getattr(self, self.norm_name) if self.norm_name else None

    def init_weights(self) -> None:
        """Kaiming for the conv (leaky_relu gain when the activation is LeakyReLU), ones and
        zeros for the norm. A conv with its own init_weights (e.g. DCNv2) keeps its init."""
        if not hasattr(self.conv, "init_weights"):
            if self.with_activation and self.act_cfg["type"] == "LeakyReLU":
                a, nonlinearity = self.act_cfg.get("negative_slope", 0.01), "leaky_relu"
            else:
                a, nonlinearity = 0, "relu"
            kaiming_init(self.conv, a=a, nonlinearity=nonlinearity)
        if self.with_norm:
            constant_init(self.norm, 1, bias=0)

    def forward(self, x: torch.Tensor, activate: bool = True, norm: bool = True) -> torch.Tensor:
        for layer in self.order:
            if layer == "conv":
                if self.with_explicit_padding:
                    x = self.padding_layer(x)
                x = self.conv(x)
            elif layer == "norm" and norm and self.with_norm:
                x = self.norm(x)
            elif layer == "act" and activate and self.with_activation:
                x = self.activate(x)
        return x
