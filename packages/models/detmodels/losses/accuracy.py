"""Top-k classification accuracy, in percent (logged by the RoI box heads beside their losses)."""

from __future__ import annotations

from torch import Tensor, nn


def accuracy(pred: Tensor, target: Tensor, topk: int | tuple[int, ...] = 1,
             thresh: float | None = None) -> Tensor | list[Tensor]:
    """Percentage of (N, C) scores ``pred`` whose top-k classes contain the (N,) ``target``.

    Args:
        topk: one k (returns one tensor) or a tuple of k (returns a list, one per k).
        thresh: a prediction also needs a score above ``thresh`` to count as correct.

    Returns:
        (1,) tensors in [0, 100]; 0-d zeros when ``pred`` is empty.
    """
    if not isinstance(topk, (int, tuple)):
        raise TypeError(f"topk must be an int or a tuple of ints, but got {type(topk).__name__}")
    ks = (topk,) if isinstance(topk, int) else topk
    if pred.size(0) == 0:
        zeros = [pred.new_tensor(0.0) for _ in ks]
        return zeros[0] if isinstance(topk, int) else zeros
    if pred.dim() != 2 or target.dim() != 1 or pred.size(0) != target.size(0):
        raise ValueError(f"accuracy needs pred (N, C) and target (N,), but got "
                         f"{tuple(pred.shape)} and {tuple(target.shape)}")
    max_k = max(ks)
    if max_k > pred.size(1):
        raise ValueError(f"topk {max_k} exceeds the {pred.size(1)} classes of pred")
    top_scores, top_labels = pred.topk(max_k, dim=1)  # (N, max_k)
    correct = top_labels == target[:, None]
    if thresh is not None:
        correct &= top_scores > thresh
    results = [correct[:, :k].sum().float().reshape(1) * (100.0 / pred.size(0)) for k in ks]
    return results[0] if isinstance(topk, int) else results


class Accuracy(nn.Module):
    """Module form of :func:`accuracy`."""

    def __init__(self, topk: int | tuple[int, ...] = (1,), thresh: float | None = None):
        super().__init__()
        self.topk = topk
        self.thresh = thresh

    def forward(self, pred: Tensor, target: Tensor) -> Tensor | list[Tensor]:
        return accuracy(pred, target, self.topk, self.thresh)
