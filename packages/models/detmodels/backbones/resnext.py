"""ResNeXt: ResNet whose bottleneck 3x3 convs are grouped ("32x4d": 32 groups of width 4
at the first stage), with MMDetection's names."""

from __future__ import annotations

from .res_layer import ResLayer
from .resnet import Bottleneck, ResNet


class ResNeXt(ResNet):
    """ResNet-50/101/152 with ``groups`` groups of ``base_width`` channels in each 3x3 conv
    (scaled with the stage width). Other arguments: see ResNet."""

    arch_settings = {
        50: (Bottleneck, (3, 4, 6, 3)),
        101: (Bottleneck, (3, 4, 23, 3)),
        152: (Bottleneck, (3, 8, 36, 3)),
    }

    def __init__(self, groups: int = 1, base_width: int = 4, **kwargs):
        self.groups, self.base_width = groups, base_width
        super().__init__(**kwargs)

    def make_res_layer(self, **kwargs) -> ResLayer:
        return ResLayer(groups=self.groups, base_width=self.base_width,
                        base_channels=self.base_channels, **kwargs)
