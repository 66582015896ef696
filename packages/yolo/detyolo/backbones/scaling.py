"""The compound-scaling rules of the YOLO family: one architecture table, scaled in width
and depth for the n/s/m/l/x sizes (MMYOLO's and Ultralytics' rules, which agree)."""

from __future__ import annotations

import math


def make_divisible(channels: float, widen_factor: float = 1.0, divisor: int = 8) -> int:
    """``channels * widen_factor`` rounded up to a multiple of ``divisor``."""
    return math.ceil(channels * widen_factor / divisor) * divisor


def make_round(num_blocks: int, deepen_factor: float = 1.0) -> int:
    """``num_blocks * deepen_factor`` rounded, at least 1; a single block is never scaled."""
    return max(round(num_blocks * deepen_factor), 1) if num_blocks > 1 else num_blocks
