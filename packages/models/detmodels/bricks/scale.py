"""Scale: one learnable scalar multiplying its input (per-level regression scales in
FCOS/ATSS/GFL heads); its parameter is called ``scale`` as in MMCV."""

from __future__ import annotations

import torch
from torch import nn


class Scale(nn.Module):
    def __init__(self, scale: float = 1.0):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(scale, dtype=torch.float))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale
