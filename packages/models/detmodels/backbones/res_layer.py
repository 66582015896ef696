"""ResLayer: one ResNet stage, a sequence of residual blocks whose first block changes
resolution and width (through a 1x1 ``downsample`` shortcut)."""

from __future__ import annotations

from torch import nn

from detmodels.bricks import Sequential, build_conv_layer, build_norm_layer


class ResLayer(Sequential):
    """``num_blocks`` blocks of type ``block``; children are named '0', '1'... as MMDetection's.

    Args:
        block: BasicBlock or Bottleneck (a class with an ``expansion`` attribute).
        inplanes: input channels; planes: the block's width before expansion.
        stride: stride of the first block (or of the last when ``downsample_first=False``).
        avg_down: downsample the shortcut with average pooling then a stride-1 1x1 conv
            (ResNet-D) instead of a strided 1x1 conv.
        downsample_first: the resolution change happens in the first block (ResNet) or the
            last (Hourglass).
        kwargs: passed to every block (dilation, style, with_cp, dcn, groups, expansion...).
    """

    def __init__(self, block: type[nn.Module], inplanes: int, planes: int, num_blocks: int,
                 stride: int = 1, avg_down: bool = False, conv_cfg: dict | None = None,
                 norm_cfg: dict = dict(type="BN"),  # noqa: B006 - never mutated
                 downsample_first: bool = True, **kwargs):
        self.block = block
        out_planes = planes * kwargs.get("expansion", block.expansion)
        downsample = None
        if stride != 1 or inplanes != out_planes:
            layers = []
            if avg_down:
                layers.append(nn.AvgPool2d(kernel_size=stride, stride=stride, ceil_mode=True,
                                           count_include_pad=False))
            layers.append(build_conv_layer(conv_cfg, inplanes, out_planes, kernel_size=1,
                                           stride=1 if avg_down else stride, bias=False))
            layers.append(build_norm_layer(norm_cfg, out_planes)[1])
            downsample = nn.Sequential(*layers)

        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, **kwargs)
        if downsample_first:
            blocks = [block(inplanes=inplanes, planes=planes, stride=stride, downsample=downsample,
                            **common)]
            blocks += [block(inplanes=out_planes, planes=planes, stride=1, **common)
                       for _ in range(1, num_blocks)]
        else:
            blocks = [block(inplanes=inplanes, planes=inplanes, stride=1, **common)
                      for _ in range(num_blocks - 1)]
            blocks.append(block(inplanes=inplanes, planes=planes, stride=stride,
                                downsample=downsample, **common))
        super().__init__(*blocks)
