"""FrozenBatchNorm2d: batch norm with fixed statistics and affine parameters (buffers,
not parameters), for fine-tuning backbones whose batches are too small for BN."""

from __future__ import annotations

import torch
from torch import nn


class FrozenBatchNorm2d(nn.Module):
    """y = (x - running_mean) / sqrt(running_var + eps) * weight + bias on (N, C, H, W).

    Starts as the identity; state_dict keys are BatchNorm2d's (a BN checkpoint loads as is,
    its ``num_batches_tracked`` is ignored).
    """

    def __init__(self, num_features: int, eps: float = 1e-5, **kwargs):
        # kwargs: the other BatchNorm2d arguments (momentum, affine...), meaningless when frozen
        super().__init__()
        self.num_features, self.eps = num_features, eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features) - eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.weight * (self.running_var + self.eps).rsqrt()
        shift = self.bias - self.running_mean * scale
        return x * scale.view(1, -1, 1, 1).to(x.dtype) + shift.view(1, -1, 1, 1).to(x.dtype)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        state_dict.pop(prefix + "num_batches_tracked", None)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}"

    @classmethod
    def convert_frozen_batchnorm(cls, module: nn.Module) -> nn.Module:
        """Replace every BatchNorm2d / SyncBatchNorm inside ``module`` by a frozen copy;
        returns the new module when ``module`` itself is one, else ``module`` changed in place."""
        if isinstance(module, (nn.BatchNorm2d, nn.SyncBatchNorm)):
            frozen = cls(module.num_features, eps=module.eps)
            if module.affine:
                frozen.weight.copy_(module.weight.detach())
                frozen.bias.copy_(module.bias.detach())
            if module.running_mean is not None:
                frozen.running_mean.copy_(module.running_mean)
                frozen.running_var.copy_(module.running_var)
            return frozen
        for name, child in module.named_children():
            converted = cls.convert_frozen_batchnorm(child)
            if converted is not child:
                module.add_module(name, converted)
        return module
