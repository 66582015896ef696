"""OptimWrapper: one object that does backward, clipping, accumulation and the step.

    optim_wrapper = dict(type='OptimWrapper',
                         optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4),
                         clip_grad=dict(max_norm=35, norm_type=2),
                         accumulative_counts=1)

With ``accumulative_counts=k`` the optimizer steps every k-th ``update_params`` call
and each loss is divided by k (by the remainder for the last, shorter group of a run),
so k accumulated batches of size b train like one batch of size k*b.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Mapping

import torch
from torch import nn
from torch.optim import Optimizer

CLIP_TYPES = ("norm", "value")


class OptimWrapper:
    def __init__(self, optimizer: Optimizer, accumulative_counts: int = 1,
                 clip_grad: Mapping | None = None):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optim_wrapper.optimizer must build a torch.optim.Optimizer, "
                            f"got {type(optimizer).__name__}")
        if not isinstance(accumulative_counts, int) or accumulative_counts < 1:
            raise ValueError(f"optim_wrapper.accumulative_counts must be a positive int, "
                             f"got {accumulative_counts!r}")
        self.optimizer = optimizer
        self.accumulative_counts = accumulative_counts
        self.clip_grad = self._check_clip_grad(clip_grad)
        self.last_grad_norm: torch.Tensor | None = None
        self._inner_count = 0  # backward passes done in this run
        self._max_counts = -1  # total backward passes of the run, when known

    @staticmethod
    def _check_clip_grad(clip_grad: Mapping | None) -> dict | None:
        if clip_grad is None:
            return None
        if not isinstance(clip_grad, Mapping):
            raise TypeError(f"optim_wrapper.clip_grad must be a dict or None, got {clip_grad!r}")
        clip = dict(clip_grad)
        kind = clip.pop("type", "norm")
        if kind not in CLIP_TYPES:
            raise ValueError(f"optim_wrapper.clip_grad.type must be one of {CLIP_TYPES}, got '{kind}'")
        needed = "max_norm" if kind == "norm" else "clip_value"
        if needed not in clip:
            raise ValueError(f"optim_wrapper.clip_grad of type '{kind}' needs '{needed}'")
        return {"type": kind, **clip}

    # ------------------------------------------------------------------ the update
    def update_params(self, loss: torch.Tensor) -> None:
        """Backward ``loss``; step and zero the gradients when an accumulation group is full."""
        self.backward(self.scale_loss(loss))
        if self.should_update():
            self.step()
            self.zero_grad()

    def scale_loss(self, loss: torch.Tensor) -> torch.Tensor:
        if self.accumulative_counts == 1:
            return loss
        remainder = self._max_counts % self.accumulative_counts if self._max_counts > 0 else 0
        in_last_group = remainder and self._inner_count >= self._max_counts - remainder
        return loss / (remainder if in_last_group else self.accumulative_counts)

    def backward(self, loss: torch.Tensor) -> None:
        loss.backward()
        self._inner_count += 1

    def step(self) -> None:
        if self.clip_grad is not None:
            self._clip_grads()
        self.optimizer.step()

    def zero_grad(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)

    def _clip_grads(self) -> None:
        params = [p for group in self.optimizer.param_groups for p in group["params"]
                  if p.grad is not None]
        if not params:
            return
        clip = dict(self.clip_grad)
        if clip.pop("type") == "norm":
            self.last_grad_norm = nn.utils.clip_grad_norm_(params, **clip)
        else:
            nn.utils.clip_grad_value_(params, **clip)

    def should_update(self) -> bool:
        """Whether the backward just done completes an accumulation group."""
        return (self._inner_count % self.accumulative_counts == 0
                or self._inner_count == self._max_counts)

    def should_sync(self) -> bool:
        """Whether the coming backward completes a group (DDP must then all-reduce)."""
        coming = self._inner_count + 1
        return coming % self.accumulative_counts == 0 or coming == self._max_counts

    def initialize_count_status(self, model: nn.Module, init_counts: int, max_counts: int) -> None:
        """Tell the wrapper where the run starts (after a resume) and how long it is."""
        self._inner_count = init_counts
        self._max_counts = max_counts
        if self.accumulative_counts > 1 and any(
                isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
            warnings.warn("gradient accumulation with BatchNorm: the statistics still come from "
                          "each small batch, so results differ from one large batch", stacklevel=2)

    @contextlib.contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        """Context for the forward pass: skips DDP's gradient all-reduce inside a group."""
        if self.accumulative_counts > 1 and not self.should_sync() and hasattr(model, "no_sync"):
            with model.no_sync():
                yield
        else:
            yield

    # ------------------------------------------------------------------ introspection and state
    @property
    def param_groups(self) -> list[dict]:
        return self.optimizer.param_groups

    def get_lr(self) -> list[float]:
        return [group["lr"] for group in self.param_groups]

    def get_momentum(self) -> list[float]:
        return [group["betas"][0] if "betas" in group else group.get("momentum", 0.0)
                for group in self.param_groups]

    def state_dict(self) -> dict:
        return self.optimizer.state_dict()

    def load_state_dict(self, state_dict: dict) -> None:
        self.optimizer.load_state_dict(state_dict)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(optimizer={type(self.optimizer).__name__}, "
                f"accumulative_counts={self.accumulative_counts}, clip_grad={self.clip_grad})")
