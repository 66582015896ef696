"""The blocks YOLO backbones and necks are stacked from, with MMYOLO's module names (so its
checkpoints, and Ultralytics' once renamed, load as they are).

    DarknetBottleneck     two convs and a residual                    (Ultralytics: Bottleneck)
    CSPLayer              main/short branches, blocks on the main one (Ultralytics: C3)
    CSPLayerWithTwoConv   one conv split in two, every block output   (Ultralytics: C2f)
                          concatenated
    SPPFBottleneck        three chained max-pools concatenated        (Ultralytics: SPPF)

Every conv is a ``ConvModule`` (conv, BN, activation); YOLO's default normalisation is
BN(momentum=0.03, eps=0.001) with SiLU.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from detmodels.bricks import BaseModule, ConvModule

#: YOLO's normalisation and activation (MMYOLO's and Ultralytics' defaults).
YOLO_NORM_CFG = dict(type="BN", momentum=0.03, eps=0.001)
YOLO_ACT_CFG = dict(type="SiLU", inplace=True)


def _conv_kwargs(conv_cfg, norm_cfg, act_cfg) -> dict:
    return dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)


class DarknetBottleneck(BaseModule):
    """conv1 -> conv2, plus the input when ``add_identity`` and the channels match.

    Args:
        expansion: hidden channels = out_channels * expansion.
        kernel_size, padding: of conv1 and conv2; (1, 3) is YOLOv5's C3 block, (3, 3) YOLOv8's.
    """

    def __init__(self, in_channels: int, out_channels: int, expansion: float = 0.5,
                 kernel_size: Sequence[int] = (1, 3), padding: Sequence[int] = (0, 1),
                 add_identity: bool = True, conv_cfg: dict | None = None,
                 norm_cfg: dict = YOLO_NORM_CFG, act_cfg: dict = YOLO_ACT_CFG,
                 init_cfg: dict | None = None):
        super().__init__(init_cfg)
        hidden_channels = int(out_channels * expansion)
        layer = _conv_kwargs(conv_cfg, norm_cfg, act_cfg)
        self.conv1 = ConvModule(in_channels, hidden_channels, kernel_size[0], padding=padding[0],
                                **layer)
        self.conv2 = ConvModule(hidden_channels, out_channels, kernel_size[1], padding=padding[1],
                                **layer)
        self.add_identity = add_identity and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv2(self.conv1(x))
        return out + x if self.add_identity else out


class CSPLayer(BaseModule):
    """Cross Stage Partial layer (YOLOv5's C3): ``final_conv(cat(blocks(main_conv(x)),
    short_conv(x)))`` with hidden channels ``out_channels * expand_ratio``."""

    def __init__(self, in_channels: int, out_channels: int, expand_ratio: float = 0.5,
                 num_blocks: int = 1, add_identity: bool = True, conv_cfg: dict | None = None,
                 norm_cfg: dict = YOLO_NORM_CFG, act_cfg: dict = YOLO_ACT_CFG,
                 init_cfg: dict | None = None):
        super().__init__(init_cfg)
        mid_channels = int(out_channels * expand_ratio)
        layer = _conv_kwargs(conv_cfg, norm_cfg, act_cfg)
        self.main_conv = ConvModule(in_channels, mid_channels, 1, **layer)
        self.short_conv = ConvModule(in_channels, mid_channels, 1, **layer)
        self.final_conv = ConvModule(2 * mid_channels, out_channels, 1, **layer)
        self.blocks = nn.Sequential(*(
            DarknetBottleneck(mid_channels, mid_channels, 1.0, add_identity=add_identity, **layer)
            for _ in range(num_blocks)))

    def forward(self, x: Tensor) -> Tensor:
        return self.final_conv(torch.cat((self.blocks(self.main_conv(x)), self.short_conv(x)), 1))


class CSPLayerWithTwoConv(BaseModule):
    """YOLOv8's C2f: ``main_conv`` output split in two halves; each block refines the last
    piece and every piece is concatenated into ``final_conv``."""

    def __init__(self, in_channels: int, out_channels: int, expand_ratio: float = 0.5,
                 num_blocks: int = 1, add_identity: bool = True, conv_cfg: dict | None = None,
                 norm_cfg: dict = YOLO_NORM_CFG, act_cfg: dict = YOLO_ACT_CFG,
                 init_cfg: dict | None = None):
        super().__init__(init_cfg)
        self.mid_channels = int(out_channels * expand_ratio)
        layer = _conv_kwargs(conv_cfg, norm_cfg, act_cfg)
        self.main_conv = ConvModule(in_channels, 2 * self.mid_channels, 1, **layer)
        self.final_conv = ConvModule((2 + num_blocks) * self.mid_channels, out_channels, 1,
                                     **layer)
        self.blocks = nn.ModuleList(
            DarknetBottleneck(self.mid_channels, self.mid_channels, 1.0, kernel_size=(3, 3),
                              padding=(1, 1), add_identity=add_identity, **layer)
            for _ in range(num_blocks))

    def forward(self, x: Tensor) -> Tensor:
        pieces = list(self.main_conv(x).split((self.mid_channels, self.mid_channels), 1))
        for block in self.blocks:
            pieces.append(block(pieces[-1]))
        return self.final_conv(torch.cat(pieces, 1))


class SPPFBottleneck(BaseModule):
    """Spatial pyramid pooling, fast form: ``conv2(cat(x, p(x), p(p(x)), p(p(p(x)))))`` with
    one ``kernel_sizes`` max-pool ``p`` applied in a chain (equal to SPP with kernels 5, 9, 13
    for 5); a list of kernel sizes gives the parallel SPP of YOLOX instead.

    Args:
        use_conv_first: reduce the channels with ``conv1`` (to in * mid_channels_scale) first.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 kernel_sizes: int | Sequence[int] = 5, use_conv_first: bool = True,
                 mid_channels_scale: float = 0.5, conv_cfg: dict | None = None,
                 norm_cfg: dict = YOLO_NORM_CFG, act_cfg: dict = YOLO_ACT_CFG,
                 init_cfg: dict | None = None):
        super().__init__(init_cfg)
        layer = _conv_kwargs(conv_cfg, norm_cfg, act_cfg)
        if use_conv_first:
            mid_channels = int(in_channels * mid_channels_scale)
            self.conv1 = ConvModule(in_channels, mid_channels, 1, **layer)
        else:
            mid_channels = in_channels
            self.conv1 = None
        self.kernel_sizes = kernel_sizes
        if isinstance(kernel_sizes, int):
            self.poolings = nn.MaxPool2d(kernel_sizes, stride=1, padding=kernel_sizes // 2)
            num_pieces = 4
        else:
            self.poolings = nn.ModuleList(nn.MaxPool2d(k, stride=1, padding=k // 2)
                                          for k in kernel_sizes)
            num_pieces = len(kernel_sizes) + 1
        self.conv2 = ConvModule(mid_channels * num_pieces, out_channels, 1, **layer)

    def forward(self, x: Tensor) -> Tensor:
        if self.conv1 is not None:
            x = self.conv1(x)
        if isinstance(self.kernel_sizes, int):
            pieces = [x]
            for _ in range(3):
                pieces.append(self.poolings(pieces[-1]))
        else:
            pieces = [x, *(pool(x) for pool in self.poolings)]
        return self.conv2(torch.cat(pieces, 1))
