"""Small helpers that dense and RoI heads share for per-image / per-level bookkeeping."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import torch
from torch import Tensor

from detcore.structures.bbox import stack_boxes


def multi_apply(func: Callable, *args: Sequence, **kwargs) -> tuple[list, ...]:
    """Call ``func`` on each tuple of items of ``args`` (same keyword arguments every time)
    and regroup the results: one list per output of ``func``.

    Example:
        >>> multi_apply(lambda a, b: (a + b, a * b), [1, 2], [3, 4])
        ([4, 6], [3, 8])
    """
    bound = partial(func, **kwargs) if kwargs else func
    return tuple(map(list, zip(*map(bound, *args))))


def unmap(data: Tensor, count: int, inds: Tensor, fill: float = 0) -> Tensor:
    """Scatter ``data`` (one row per True entry of the (count,) mask ``inds``) back into a
    tensor of ``count`` rows, the other rows set to ``fill``."""
    out = data.new_full((count, *data.shape[1:]), fill)
    out[inds.bool()] = data
    return out


def images_to_levels(target: Sequence[Tensor], num_levels: Sequence[int]) -> list[Tensor]:
    """Per-image targets (each (sum(num_levels), ...)) -> per-level targets, each
    (num_images, num_levels[i], ...)."""
    stacked = stack_boxes(target, 0)
    return list(stacked.split(list(num_levels), dim=1))


def select_single_mlvl(mlvl_tensors: Sequence[Tensor], batch_id: int,
                       detach: bool = True) -> list[Tensor]:
    """Image ``batch_id`` of every level's batched tensor, detached by default (proposals of
    two-stage detectors carry no gradient)."""
    if not isinstance(mlvl_tensors, (list, tuple)):
        raise TypeError(f"mlvl_tensors must be a list or tuple of per-level tensors, but got "
                        f"{type(mlvl_tensors).__name__}")
    if detach:
        return [level[batch_id].detach() for level in mlvl_tensors]
    return [level[batch_id] for level in mlvl_tensors]


def filter_scores_and_topk(scores: Tensor, score_thr: float, topk: int,
                           results: dict | list | Tensor | None = None
                           ) -> tuple[Tensor, Tensor, Tensor, Any]:
    """Keep the (prior, class) pairs of (N, K) ``scores`` above ``score_thr``, at most
    ``topk`` of them, highest first.

    Returns:
        scores (M,), labels (M,), prior indices (M,), and ``results`` (a dict, list or tensor
        with one row per prior) indexed by those priors (None when not given).
    """
    valid_mask = scores > score_thr
    scores = scores[valid_mask]
    valid_idxs = torch.nonzero(valid_mask)
    num_topk = min(topk, valid_idxs.size(0))
    scores, order = scores.sort(descending=True)
    scores = scores[:num_topk]
    keep_idxs, labels = valid_idxs[order[:num_topk]].unbind(dim=1)
    if results is None:
        filtered = None
    elif isinstance(results, dict):
        filtered = {key: value[keep_idxs] for key, value in results.items()}
    elif isinstance(results, list):
        filtered = [value[keep_idxs] for value in results]
    elif isinstance(results, Tensor):
        filtered = results[keep_idxs]
    else:
        raise TypeError(f"results must be a dict, list or Tensor, but got {type(results).__name__}")
    return scores, labels, keep_idxs, filtered
