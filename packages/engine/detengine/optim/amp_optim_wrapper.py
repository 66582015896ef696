"""AmpOptimWrapper: mixed precision on top of OptimWrapper.

On CUDA the forward runs under float16 autocast with a gradient scaler (dynamic by
default); on the CPU under bfloat16 autocast, which needs no scaler. Gradients are
unscaled before clipping so ``clip_grad`` means the same as without AMP.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

import torch
from torch import nn

from detengine.optim.optim_wrapper import OptimWrapper

DTYPES = {"float16": torch.float16, "fp16": torch.float16, "half": torch.float16,
          "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}


class AmpOptimWrapper(OptimWrapper):
    """``loss_scale``: 'dynamic', a fixed float, or GradScaler keyword arguments (dict).
    ``dtype``: 'float16' or 'bfloat16' (default: float16 on CUDA, bfloat16 on the CPU)."""

    def __init__(self, loss_scale: str | float | Mapping = "dynamic",
                 dtype: str | torch.dtype | None = None, **kwargs):
        super().__init__(**kwargs)
        self.device_type = self._params_device_type()
        if dtype is None:
            dtype = torch.float16 if self.device_type == "cuda" else torch.bfloat16
        elif isinstance(dtype, str):
            if dtype not in DTYPES:
                raise ValueError(f"optim_wrapper.dtype must be one of {sorted(DTYPES)}, got '{dtype}'")
            dtype = DTYPES[dtype]
        self.cast_dtype = dtype
        self.loss_scaler = None
        if self.device_type == "cuda" and dtype == torch.float16:
            self.loss_scaler = torch.amp.GradScaler("cuda", **self._scaler_kwargs(loss_scale))

    def _params_device_type(self) -> str:
        for group in self.optimizer.param_groups:
            for param in group["params"]:
                return param.device.type
        return "cpu"

    @staticmethod
    def _scaler_kwargs(loss_scale) -> dict:
        if loss_scale == "dynamic":
            return {}
        if isinstance(loss_scale, (int, float)) and not isinstance(loss_scale, bool):
            return {"init_scale": float(loss_scale), "growth_factor": 1.0, "backoff_factor": 1.0}
        if isinstance(loss_scale, Mapping):
            return dict(loss_scale)
        raise ValueError(f"optim_wrapper.loss_scale must be 'dynamic', a number or a dict, "
                         f"got {loss_scale!r}")

    def backward(self, loss: torch.Tensor) -> None:
        if self.loss_scaler is not None:
            loss = self.loss_scaler.scale(loss)
        super().backward(loss)

    def step(self) -> None:
        if self.loss_scaler is None:
            super().step()
            return
        if self.clip_grad is not None:
            self.loss_scaler.unscale_(self.optimizer)
            self._clip_grads()
        self.loss_scaler.step(self.optimizer)
        self.loss_scaler.update()

    @contextlib.contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        with super().optim_context(model), torch.autocast(self.device_type, dtype=self.cast_dtype):
            yield

    def state_dict(self) -> dict:
        state = super().state_dict()
        if self.loss_scaler is not None:
            state["loss_scaler"] = self.loss_scaler.state_dict()
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        scaler_state = state_dict.pop("loss_scaler", None)
        if scaler_state is not None and self.loss_scaler is not None:
            self.loss_scaler.load_state_dict(scaler_state)
        super().load_state_dict(state_dict)
