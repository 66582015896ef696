"""TinyConvNet: a small strided conv backbone returning multi-scale features, like any
detmodels backbone (a tuple of (B, C_i, H/2^s, W/2^s) maps for the requested stages)."""

from torch import nn


class TinyConvNet(nn.Module):
    """Stages of conv-BN-ReLU, each halving the resolution.

    Args:
        in_channels: channels of the input image.
        widths: output channels of each stage.
        out_indices: which stages to return (0-based), as in MMDetection backbones.
    """

    def __init__(self, in_channels=3, widths=(16, 32, 64, 128), out_indices=(1, 2, 3)):
        super().__init__()
        if max(out_indices) >= len(widths):
            raise ValueError(f"out_indices {out_indices} refer to stages beyond the "
                             f"{len(widths)} given by widths")
        self.out_indices = tuple(out_indices)
        self.stages = nn.ModuleList()
        for width in widths:
            self.stages.append(nn.Sequential(
                nn.Conv2d(in_channels, width, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(width), nn.ReLU(inplace=True)))
            in_channels = width
        self.out_channels = [widths[i] for i in self.out_indices]

    def forward(self, x):
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
