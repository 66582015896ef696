"""YOLOv5DetDataPreprocessor: the batch of a YOLO detector, images stacked (or padded to
a common size), BGR to RGB and scaled to [0, 1] (mean 0, std 255; no ImageNet statistics)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class YOLOv5DetDataPreprocessor(nn.Module):
    """Args:
        mean, std: per channel, in the output's channel order (after bgr_to_rgb).
        bgr_to_rgb: swap the first and last channels (images are read as BGR).
        pad_size_divisor: pad the batch's height and width up to a multiple of this.
        pad_value: value of padded pixels (before normalisation).

    ``forward(data, training)`` takes ``{'inputs': list of (C, H, W) tensors or a
    (B, C, H, W) tensor, 'data_samples': list of DetDataSample}`` and returns the same keys
    with inputs a float (B, C, H, W) tensor on the module's device. Each sample's metainfo
    gets ``batch_input_shape`` and ``pad_shape`` (h, w).
    """

    def __init__(self, mean: Sequence[float] = (0.0, 0.0, 0.0),
                 std: Sequence[float] = (255.0, 255.0, 255.0), bgr_to_rgb: bool = True,
                 pad_size_divisor: int = 1, pad_value: float = 0.0):
        super().__init__()
        if len(mean) != len(std):
            raise ValueError(f"YOLOv5DetDataPreprocessor: mean {list(mean)} and std {list(std)} "
                             f"must have one value per channel")
        if any(s == 0 for s in std):
            raise ValueError(f"YOLOv5DetDataPreprocessor: std must not contain 0, got {list(std)}")
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1),
                             persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(-1, 1, 1),
                             persistent=False)
        self.bgr_to_rgb = bgr_to_rgb
        self.pad_size_divisor = pad_size_divisor
        self.pad_value = pad_value

    def _batch(self, inputs: Tensor | Sequence[Tensor]) -> Tensor:
        """(B, C, H, W) from a stacked tensor or a list of (C, H, W) images (padded bottom
        and right to the largest size, rounded up to ``pad_size_divisor``)."""
        if isinstance(inputs, Tensor):
            if inputs.dim() != 4:
                raise ValueError(f"inputs must be (B, C, H, W), got shape {tuple(inputs.shape)}")
            batch = inputs
        else:
            if not inputs:
                raise ValueError("inputs is an empty list")
            bad = [i for i, img in enumerate(inputs) if not isinstance(img, Tensor) or img.dim() != 3]
            if bad:
                raise ValueError(f"inputs[{bad[0]}] must be a (C, H, W) tensor")
            height = max(img.shape[1] for img in inputs)
            width = max(img.shape[2] for img in inputs)
            if all(img.shape[1:] == (height, width) for img in inputs):
                batch = torch.stack(list(inputs))
            else:
                batch = inputs[0].new_full((len(inputs), inputs[0].shape[0], height, width),
                                           self.pad_value)
                for img, slot in zip(inputs, batch):
                    slot[:, :img.shape[1], :img.shape[2]] = img
        divisor = self.pad_size_divisor
        pad_h = -batch.shape[2] % divisor
        pad_w = -batch.shape[3] % divisor
        if pad_h or pad_w:
            batch = F.pad(batch, (0, pad_w, 0, pad_h), value=self.pad_value)
        return batch

    def forward(self, data: Mapping, training: bool = False) -> dict:
        batch = self._batch(data["inputs"]).to(self.mean.device, non_blocking=True)
        channels = batch.shape[1]
        if channels != self.mean.shape[0]:
            raise ValueError(f"inputs have {channels} channels but mean/std give "
                             f"{self.mean.shape[0]}")
        batch = batch.float()
        if self.bgr_to_rgb and channels == 3:
            batch = batch.flip(1)
        batch = (batch - self.mean) / self.std
        data_samples = data.get("data_samples")
        if data_samples is not None:
            shape = tuple(batch.shape[2:])
            for sample in data_samples:
                sample.set_metainfo(dict(batch_input_shape=shape, pad_shape=shape))
        return dict(inputs=batch, data_samples=data_samples)
