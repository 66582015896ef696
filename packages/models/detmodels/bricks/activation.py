"""Activation layers that torch lacks under MMCV's names and arguments.

torch's own activations (ReLU, LeakyReLU, ReLU6, SiLU, GELU, Hardswish as 'HSwish',
Mish...) are registered directly; these three have arguments or formulas of MMCV's.
"""

from __future__ import annotations

import torch
from torch import nn


class HSigmoid(nn.Module):
    """clamp((x + bias) / divisor, min_value, max_value); the defaults equal
    nn.Hardsigmoid, the arguments let MMDetection's heads (e.g. DyReLU) change them."""

    def __init__(self, bias: float = 3.0, divisor: float = 6.0, min_value: float = 0.0,
                 max_value: float = 1.0):
        super().__init__()
        if divisor == 0:
            raise ValueError("HSigmoid: divisor must not be 0")
        self.bias, self.divisor = bias, divisor
        self.min_value, self.max_value = min_value, max_value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((x + self.bias) / self.divisor).clamp(self.min_value, self.max_value)


class Swish(nn.Module):
    """x * sigmoid(x) (SiLU without the ``inplace`` argument, as MMCV's 'Swish')."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x)


class Clamp(nn.Module):
    """Clamp values to [min, max] (MMCV's 'Clamp' / 'Clip')."""

    def __init__(self, min: float = -1.0, max: float = 1.0):
        super().__init__()
        self.min, self.max = min, max

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(x, min=self.min, max=self.max)
