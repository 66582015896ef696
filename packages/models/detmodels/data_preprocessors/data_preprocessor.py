"""DetDataPreprocessor: the collated batch -> the model's input tensor, as MMDetection's.

Every image is moved to the model's device, converted to float, optionally flipped between
BGR and RGB, normalised with (x - mean) / std, and padded at the bottom/right with
``pad_value`` to the batch's largest size rounded up to ``pad_size_divisor``. Each data
sample learns ``batch_input_shape`` (the padded batch size) and ``pad_shape`` (its own size
rounded up to the divisor); while training, instance masks and semantic maps are padded to
the batch size and batch augmentations run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from detcore.registry import MODELS
from detcore.structures import BaseBoxes, BaseDataElement, PixelData


def _to_device(data, device: torch.device, non_blocking: bool):
    """Move every tensor and data element inside nested dicts, lists and tuples."""
    if isinstance(data, torch.Tensor):
        return data.to(device, non_blocking=non_blocking)
    if isinstance(data, BaseDataElement):
        return data.to(device)
    if isinstance(data, Mapping):
        return {key: _to_device(value, device, non_blocking) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return type(data)(_to_device(value, device, non_blocking) for value in data)
    return data


class DetDataPreprocessor(nn.Module):
    """Normalise, pad and batch images for a detector.

    Args:
        mean, std: per-channel (3 values, or 1 for gray images), in the input's channel order
            after any flip; None for both: no normalisation.
        pad_size_divisor: the padded batch's height and width are multiples of it.
        pad_value: value of the padded image pixels (after normalisation).
        pad_mask: pad gt_instances.masks to the batch size while training.
        mask_pad_value: value of padded mask pixels.
        pad_seg: pad gt_sem_seg.sem_seg to the batch size while training.
        seg_pad_value: value of padded semantic-map pixels (255: ignore).
        bgr_to_rgb, rgb_to_bgr: reverse the channel order of 3-channel images.
        boxtype2tensor: turn box objects (HorizontalBoxes) in the samples' instances into
            plain (N, 4) tensors, which heads and losses expect.
        non_blocking: asynchronous host-to-device copies.
        batch_augments: configs of MODELS modules called as
            ``inputs, data_samples = aug(inputs, data_samples)`` while training.

    forward(data, training) takes ``{'inputs': list of (C, H, W) tensors or an (N, C, H, W)
    tensor, 'data_samples': list of DetDataSample or None}`` and returns
    ``{'inputs': (N, C, H, W) float tensor, 'data_samples': ...}``.
    """

    def __init__(self, mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                 pad_size_divisor: int = 1, pad_value: float = 0, pad_mask: bool = False,
                 mask_pad_value: int = 0, pad_seg: bool = False, seg_pad_value: int = 255,
                 bgr_to_rgb: bool = False, rgb_to_bgr: bool = False, boxtype2tensor: bool = True,
                 non_blocking: bool = False, batch_augments: Sequence[dict] | None = None):
        super().__init__()
        if bgr_to_rgb and rgb_to_bgr:
            raise ValueError("DetDataPreprocessor: bgr_to_rgb and rgb_to_bgr cannot both be True")
        if (mean is None) != (std is None):
            raise ValueError("DetDataPreprocessor: give both mean and std, or neither")
        if pad_size_divisor < 1:
            raise ValueError(f"DetDataPreprocessor: pad_size_divisor must be >= 1, got {pad_size_divisor}")
        self._normalize = mean is not None
        if self._normalize:
            for name, values in (("mean", mean), ("std", std)):
                if len(values) not in (1, 3):
                    raise ValueError(f"DetDataPreprocessor: {name} must have 1 or 3 values (gray or "
                                     f"color images), got {len(values)}: {list(values)}")
            self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1), False)
            self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(-1, 1, 1), False)
        # an empty buffer that follows .to()/.cuda(): where the batch must go
        self.register_buffer("_device_anchor", torch.empty(0), False)
        self._channel_flip = bgr_to_rgb or rgb_to_bgr
        self.pad_size_divisor, self.pad_value = pad_size_divisor, pad_value
        self.pad_mask, self.mask_pad_value = pad_mask, mask_pad_value
        self.pad_seg, self.seg_pad_value = pad_seg, seg_pad_value
        self.boxtype2tensor, self.non_blocking = boxtype2tensor, non_blocking
        self.batch_augments = (nn.ModuleList([MODELS.build(cfg) for cfg in batch_augments])
                               if batch_augments else None)

    @property
    def device(self) -> torch.device:
        return self._device_anchor.device

    def _rounded(self, size: int) -> int:
        return math.ceil(size / self.pad_size_divisor) * self.pad_size_divisor

    def _prepare(self, image: torch.Tensor) -> torch.Tensor:
        """Channel flip, float, normalisation of (C, H, W) or (N, C, H, W)."""
        channel_dim = image.dim() - 3
        if self._channel_flip:
            if image.shape[channel_dim] != 3:
                raise ValueError(f"DetDataPreprocessor: bgr_to_rgb/rgb_to_bgr need 3-channel images, "
                                 f"got shape {tuple(image.shape)}")
            image = image.flip(channel_dim)
        image = image.float()
        if self._normalize:
            if self.mean.shape[0] == 3 and image.shape[channel_dim] != 3:
                raise ValueError(f"DetDataPreprocessor: mean has 3 values, so images must have 3 "
                                 f"channels, got shape {tuple(image.shape)}")
            image = (image - self.mean) / self.std
        return image

    def _batch_images(self, inputs) -> tuple[torch.Tensor, list[tuple[int, int]]]:
        """The padded (N, C, H, W) batch and each image's pad_shape."""
        if isinstance(inputs, torch.Tensor):
            if inputs.dim() != 4:
                raise ValueError(f"DetDataPreprocessor: a batched 'inputs' tensor must be (N, C, H, W), "
                                 f"got shape {tuple(inputs.shape)}")
            height, width = inputs.shape[2:]
            pad_h, pad_w = self._rounded(height) - height, self._rounded(width) - width
            batch = F.pad(self._prepare(inputs), (0, pad_w, 0, pad_h), value=self.pad_value)
            return batch, [(self._rounded(height), self._rounded(width))] * inputs.shape[0]
        if not (isinstance(inputs, Sequence) and inputs
                and all(isinstance(x, torch.Tensor) and x.dim() == 3 for x in inputs)):
            raise TypeError("DetDataPreprocessor: 'inputs' must be a non-empty list of (C, H, W) "
                            f"tensors or an (N, C, H, W) tensor, got {type(inputs).__name__}")
        images = [self._prepare(x) for x in inputs]
        channels = {x.shape[0] for x in images}
        if len(channels) != 1:
            raise ValueError(f"DetDataPreprocessor: images of one batch have different channel "
                             f"counts {sorted(channels)}")
        height = self._rounded(max(x.shape[1] for x in images))
        width = self._rounded(max(x.shape[2] for x in images))
        batch = images[0].new_full((len(images), images[0].shape[0], height, width), self.pad_value)
        for slot, image in zip(batch, images):
            slot[:, :image.shape[1], :image.shape[2]] = image
        return batch, [(self._rounded(x.shape[1]), self._rounded(x.shape[2])) for x in images]

    def forward(self, data: Mapping, training: bool = False) -> dict:
        if not isinstance(data, Mapping) or "inputs" not in data:
            raise TypeError(f"DetDataPreprocessor expects a dict with 'inputs' (and 'data_samples'), "
                            f"got {type(data).__name__}")
        data = _to_device(dict(data), self.device, self.non_blocking)
        inputs, pad_shapes = self._batch_images(data["inputs"])
        data_samples = data.get("data_samples")
        if data_samples is not None:
            batch_input_shape = tuple(inputs.shape[-2:])
            for sample, pad_shape in zip(data_samples, pad_shapes):
                sample.set_metainfo({"batch_input_shape": batch_input_shape, "pad_shape": pad_shape})
            if self.boxtype2tensor:
                boxes_to_tensors(data_samples)
            if training and self.pad_mask:
                self._pad_gt_masks(data_samples)
            if training and self.pad_seg:
                self._pad_gt_sem_seg(data_samples)
        if training and self.batch_augments is not None:
            for augment in self.batch_augments:
                inputs, data_samples = augment(inputs, data_samples)
        return {"inputs": inputs, "data_samples": data_samples}

    def _pad_gt_masks(self, data_samples) -> None:
        for sample in data_samples:
            if "gt_instances" in sample and "masks" in sample.gt_instances:
                sample.gt_instances.masks = sample.gt_instances.masks.pad(
                    sample.batch_input_shape, pad_val=self.mask_pad_value)

    def _pad_gt_sem_seg(self, data_samples) -> None:
        for sample in data_samples:
            if "gt_sem_seg" not in sample:
                continue
            sem_seg = sample.gt_sem_seg.sem_seg
            height, width = sem_seg.shape[-2:]
            pad_h, pad_w = sample.batch_input_shape
            sample.gt_sem_seg = PixelData(sem_seg=F.pad(
                sem_seg, (0, max(pad_w - width, 0), 0, max(pad_h - height, 0)),
                value=self.seg_pad_value))


def boxes_to_tensors(data_samples) -> None:
    """Replace box objects in gt/pred/ignored instances by their (N, 4) tensors, in place."""
    for sample in data_samples:
        for field in ("gt_instances", "pred_instances", "ignored_instances"):
            if field in sample:
                boxes = sample.get(field).get("bboxes", None)
                if isinstance(boxes, BaseBoxes):
                    sample.get(field).bboxes = boxes.tensor
