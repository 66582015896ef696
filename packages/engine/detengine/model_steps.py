"""One training, validation or test step of any model that follows the model API.

The model API (MMDetection 3.x): ``model(inputs, data_samples, mode)`` with mode
``'loss'`` (a dict of losses), ``'predict'`` (a list of data samples) or ``'tensor'``;
``model.data_preprocessor(data, training)`` turns a collated batch into model inputs
(and moves it to the model's device). Models without a data preprocessor get their
batch moved to their device unchanged. A model that defines its own ``train_step``,
``val_step`` or ``test_step`` is trusted to do the whole step itself.

detmodels stays free of any dependency on the engine: the loss bookkeeping lives here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DataParallel, DistributedDataParallel


def unwrap_model(model: nn.Module) -> nn.Module:
    """The model inside a (Distributed)DataParallel wrapper, or the model itself."""
    return model.module if isinstance(model, (DataParallel, DistributedDataParallel)) else model


def parse_losses(losses: Mapping[str, Any]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Sum the terms whose name contains 'loss'; return it and every term for logging.

    A value is a tensor (its mean is taken) or a list of tensors (the sum of their
    means, e.g. one per feature level). Returns ``(loss, log_vars)`` where ``log_vars``
    holds detached scalars, ``'loss'`` (the total) first.
    """
    if not isinstance(losses, Mapping):
        raise TypeError(f"model(mode='loss') must return a dict of losses, got {type(losses).__name__}")
    terms: dict[str, torch.Tensor] = {}
    for name, value in losses.items():
        if isinstance(value, torch.Tensor):
            terms[name] = value.mean()
        elif isinstance(value, Sequence) and value and all(isinstance(v, torch.Tensor) for v in value):
            terms[name] = sum(v.mean() for v in value)
        else:
            raise TypeError(f"loss term '{name}' must be a tensor or a list of tensors, "
                            f"got {type(value).__name__}")
    summed = [value for name, value in terms.items() if "loss" in name]
    if not summed:
        raise ValueError(f"model(mode='loss') returned no term whose name contains 'loss' "
                         f"(got {sorted(terms)}); only such terms are optimised")
    loss = sum(summed)
    log_vars = {"loss": loss.detach(), **{k: v.detach() for k, v in terms.items() if k != "loss"}}
    return loss, log_vars


def model_device(model: nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


def to_device(data: Any, device: torch.device) -> Any:
    """Move every tensor (or object with ``.to``) inside nested dicts, lists and tuples."""
    if isinstance(data, torch.Tensor) or (hasattr(data, "to") and not isinstance(data, type)):
        return data.to(device)
    if isinstance(data, Mapping):
        return {k: to_device(v, device) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return type(data)(to_device(v, device) for v in data)
    return data


def preprocess(model: nn.Module, data: Any, training: bool) -> Any:
    """Run the model's data preprocessor, or just move the batch to the model's device."""
    module = unwrap_model(model)
    preprocessor = getattr(module, "data_preprocessor", None)
    if preprocessor is None:
        return to_device(data, model_device(module))
    return preprocessor(data, training)


def run_forward(model: nn.Module, data: Any, mode: str) -> Any:
    """``model(**data, mode=mode)`` for a dict batch, ``model(*data, mode=mode)`` for a list."""
    if isinstance(data, Mapping):
        return model(**data, mode=mode)
    if isinstance(data, (list, tuple)):
        return model(*data, mode=mode)
    raise TypeError(f"a preprocessed batch must be a dict or a list/tuple, got {type(data).__name__}")


def train_step(model: nn.Module, data: Any, optim_wrapper) -> dict[str, torch.Tensor]:
    """Forward in 'loss' mode, backward, and (when due) an optimizer step; return log_vars."""
    module = unwrap_model(model)
    if hasattr(module, "train_step"):
        return module.train_step(data, optim_wrapper)
    with optim_wrapper.optim_context(model):
        data = preprocess(model, data, training=True)
        losses = run_forward(model, data, mode="loss")
    loss, log_vars = parse_losses(losses)
    optim_wrapper.update_params(loss)
    return log_vars


def val_step(model: nn.Module, data: Any) -> list:
    """Predictions of ``model`` for one batch (the caller sets eval mode and no_grad)."""
    module = unwrap_model(model)
    if hasattr(module, "val_step"):
        return module.val_step(data)
    return run_forward(module, preprocess(module, data, training=False), mode="predict")


def test_step(model: nn.Module, data: Any) -> list:
    module = unwrap_model(model)
    if hasattr(module, "test_step"):
        return module.test_step(data)
    return run_forward(module, preprocess(module, data, training=False), mode="predict")
