"""BaseYOLONeck: the path-aggregation (PAFPN) neck shared by the YOLO family, MMYOLO's
decomposition into six kinds of layers that subclasses build:

    reduce_layers[i]       on each input level
    upsample_layers[j]     \\ top-down, coarse to fine: upsample, concatenate with the finer
    top_down_layers[j]     /  level, fuse
    downsample_layers[j]   \\ bottom-up, fine to coarse: downsample, concatenate with the
    bottom_up_layers[j]    /  top-down output of the coarser level, fuse
    out_layers[i]          on each output level
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from detmodels.bricks import BaseModule


class BaseYOLONeck(BaseModule, metaclass=ABCMeta):
    """Args:
        in_channels, out_channels: per level, before ``widen_factor`` scaling.
        upsample_feats_cat_first: concatenate the upsampled feature before (True) or after
            the finer one.
        freeze_all: no gradient and eval mode for the whole neck.
    """

    def __init__(self, in_channels: Sequence[int], out_channels: int | Sequence[int],
                 deepen_factor: float = 1.0, widen_factor: float = 1.0,
                 upsample_feats_cat_first: bool = True, freeze_all: bool = False,
                 norm_cfg: dict | None = None, act_cfg: dict | None = None,
                 init_cfg: dict | list[dict] | None = None):
        super().__init__(init_cfg)
        self.in_channels = list(in_channels)
        self.out_channels = out_channels
        self.deepen_factor = deepen_factor
        self.widen_factor = widen_factor
        self.upsample_feats_cat_first = upsample_feats_cat_first
        self.freeze_all = freeze_all
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        num_levels = len(self.in_channels)
        self.reduce_layers = nn.ModuleList(self.build_reduce_layer(i) for i in range(num_levels))
        top_down = range(num_levels - 1, 0, -1)
        self.upsample_layers = nn.ModuleList(self.build_upsample_layer(i) for i in top_down)
        self.top_down_layers = nn.ModuleList(self.build_top_down_layer(i) for i in top_down)
        bottom_up = range(num_levels - 1)
        self.downsample_layers = nn.ModuleList(self.build_downsample_layer(i) for i in bottom_up)
        self.bottom_up_layers = nn.ModuleList(self.build_bottom_up_layer(i) for i in bottom_up)
        self.out_layers = nn.ModuleList(self.build_out_layer(i) for i in range(num_levels))

    @abstractmethod
    def build_reduce_layer(self, idx: int) -> nn.Module: ...

    @abstractmethod
    def build_upsample_layer(self, idx: int) -> nn.Module: ...

    @abstractmethod
    def build_top_down_layer(self, idx: int) -> nn.Module: ...

    @abstractmethod
    def build_downsample_layer(self, idx: int) -> nn.Module: ...

    @abstractmethod
    def build_bottom_up_layer(self, idx: int) -> nn.Module: ...

    @abstractmethod
    def build_out_layer(self, idx: int) -> nn.Module: ...

    def init_weights(self) -> None:
        """Without an init_cfg, PyTorch's default conv initialisation (MMYOLO, Ultralytics)."""
        if self.init_cfg is None:
            for module in self.modules():
                if isinstance(module, nn.Conv2d):
                    module.reset_parameters()
            self._is_init = True
        else:
            super().init_weights()

    def train(self, mode: bool = True) -> BaseYOLONeck:
        super().train(mode)
        if self.freeze_all:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
                for param in module.parameters():
                    param.requires_grad = False
        return self

    def forward(self, inputs: Sequence[Tensor]) -> tuple[Tensor, ...]:
        """Feature maps, finest first, to as many fused maps."""
        num_levels = len(self.in_channels)
        if len(inputs) != num_levels:
            raise ValueError(f"{type(self).__name__} expects {num_levels} feature maps "
                             f"(in_channels={self.in_channels}), got {len(inputs)}")
        reduced = [layer(x) for layer, x in zip(self.reduce_layers, inputs)]

        inner_outs = [reduced[-1]]
        for j, idx in enumerate(range(num_levels - 1, 0, -1)):
            upsampled = self.upsample_layers[j](inner_outs[0])
            finer = reduced[idx - 1]
            pair = (upsampled, finer) if self.upsample_feats_cat_first else (finer, upsampled)
            inner_outs.insert(0, self.top_down_layers[j](torch.cat(pair, 1)))

        outs = [inner_outs[0]]
        for idx in range(num_levels - 1):
            downsampled = self.downsample_layers[idx](outs[-1])
            outs.append(self.bottom_up_layers[idx](torch.cat((downsampled, inner_outs[idx + 1]), 1)))
        return tuple(layer(x) for layer, x in zip(self.out_layers, outs))
