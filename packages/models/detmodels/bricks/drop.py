"""Stochastic depth (DropPath) and MMCV's Dropout, both buildable from a config."""

from __future__ import annotations

import torch
from torch import nn


def drop_path(x: torch.Tensor, drop_prob: float = 0.0, training: bool = False) -> torch.Tensor:
    """Zero whole samples of the batch with probability ``drop_prob`` and scale the kept
    ones by 1 / (1 - drop_prob), so the expectation is unchanged; identity at eval time."""
    if drop_prob == 0.0 or not training:
        return x
    keep_prob = 1.0 - drop_prob
    keep = torch.rand((x.shape[0],) + (1,) * (x.ndim - 1), dtype=x.dtype, device=x.device)
    return x.div(keep_prob) * (keep_prob + keep).floor()


class DropPath(nn.Module):
    """``drop_path`` as a layer, e.g. on the residual branch of a Swin block."""

    def __init__(self, drop_prob: float = 0.1):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return drop_path(x, self.drop_prob, self.training)

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob}"


class Dropout(nn.Dropout):
    """nn.Dropout configured with MMCV's argument name ``drop_prob``."""

    def __init__(self, drop_prob: float = 0.5, inplace: bool = False):
        super().__init__(p=drop_prob, inplace=inplace)
