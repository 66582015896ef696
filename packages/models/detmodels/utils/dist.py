"""Averaging a loss normaliser over processes, so every rank divides by the same number."""

from __future__ import annotations

import torch.distributed as dist
from torch import Tensor


def reduce_mean(tensor: Tensor) -> Tensor:
    """Mean of ``tensor`` over all processes (itself when not distributed)."""
    if not (dist.is_available() and dist.is_initialized()):
        return tensor
    tensor = tensor.clone()
    dist.all_reduce(tensor.div_(dist.get_world_size()), op=dist.ReduceOp.SUM)
    return tensor
