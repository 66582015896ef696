"""BitmapMasks: N instance masks stored as one (N, H, W) array (MMDetection 3.x behaviour)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from . import image_ops
from .base import (
    BaseInstanceMasks,
    check_flip_direction,
    crop_window,
    default_center,
    instance_indices,
    instance_positions,
)
from .utils import mask2bbox

_FLIP_AXES = {"horizontal": (2,), "vertical": (1,), "diagonal": (1, 2)}


def _as_mask_array(masks, height: int, width: int) -> np.ndarray:
    """(N, H, W) array: uint8 for bool/integer input, float32/float64 kept for soft masks."""
    if isinstance(masks, torch.Tensor):
        masks = masks.detach().cpu().numpy()
    if isinstance(masks, (list, tuple)):
        if len(masks) == 0:
            return np.zeros((0, height, width), dtype=np.uint8)
        masks = np.stack([np.asarray(m) for m in masks])
    masks = np.asarray(masks)
    if masks.ndim != 3 or masks.shape[1:] != (height, width):
        if masks.ndim >= 1 and len(masks) == 0:
            return np.zeros((0, height, width), dtype=np.uint8)
        raise ValueError(
            f"BitmapMasks: masks must have shape (N, {height}, {width}) for height={height}, "
            f"width={width}, but got {masks.shape}"
        )
    if masks.dtype in (np.float32, np.float64, np.uint8):
        return masks
    if np.issubdtype(masks.dtype, np.floating):
        return masks.astype(np.float32)
    if masks.dtype != np.bool_ and masks.size and (masks.min() < 0 or masks.max() > 255):
        raise ValueError(
            f"BitmapMasks: integer masks must hold values in 0..255, got {masks.min()}..{masks.max()}"
        )
    return masks.astype(np.uint8)


class BitmapMasks(BaseInstanceMasks):
    """Instance masks as an (N, H, W) array; ``.masks`` is uint8 (0/1), or float for soft masks.

    Args:
        masks: (N, H, W) array or tensor, or a list of (H, W) arrays. Bool and integer
            input becomes uint8; float32/float64 stays (``crop_and_resize(binarize=False)``).
        height, width: image size; must match the masks.

    Example:
        >>> masks = BitmapMasks(np.zeros((2, 4, 6), np.uint8), height=4, width=6)
        >>> masks.flip("horizontal").pad((8, 8)).masks.shape
        (2, 8, 8)
    """

    def __init__(self, masks, height: int, width: int):
        self.height, self.width = image_ops.check_shape((height, width), "(height, width)")
        self.masks = _as_mask_array(masks, self.height, self.width)

    def _new(self, masks: np.ndarray, height: int | None = None, width: int | None = None):
        return BitmapMasks(
            masks, self.height if height is None else height, self.width if width is None else width
        )

    def __getitem__(self, index) -> BitmapMasks:
        selection = instance_indices(index, len(self), "BitmapMasks")
        return self._new(self.masks[selection])

    def rescale(self, scale, interpolation: str = "nearest") -> BitmapMasks:
        return self.resize(image_ops.rescaled_shape(self.height, self.width, scale), interpolation)

    def resize(self, out_shape, interpolation: str = "nearest") -> BitmapMasks:
        out_shape = image_ops.check_shape(out_shape)
        return self._new(image_ops.resize_masks(self.masks, out_shape, interpolation), *out_shape)

    def flip(self, flip_direction: str = "horizontal") -> BitmapMasks:
        check_flip_direction(flip_direction)
        return self._new(np.flip(self.masks, _FLIP_AXES[flip_direction]).copy())

    def pad(self, out_shape, pad_val: int = 0) -> BitmapMasks:
        out_h, out_w = image_ops.check_shape(out_shape)
        if out_h < self.height or out_w < self.width:
            raise ValueError(
                f"pad: out_shape {(out_h, out_w)} is smaller than the masks "
                f"({self.height}, {self.width})"
            )
        padded = np.full((len(self), out_h, out_w), pad_val, dtype=self.masks.dtype)
        padded[:, : self.height, : self.width] = self.masks
        return self._new(padded, out_h, out_w)

    def crop(self, bbox) -> BitmapMasks:
        x1, y1, w, h = crop_window(bbox, self.height, self.width)
        # A window that starts on the right/bottom edge still gets its 1-pixel size.
        cropped = np.zeros((len(self), h, w), dtype=self.masks.dtype)
        inside = self.masks[:, y1 : y1 + h, x1 : x1 + w]
        cropped[:, : inside.shape[1], : inside.shape[2]] = inside
        return self._new(cropped, h, w)

    def crop_and_resize(
        self,
        bboxes,
        out_shape,
        inds,
        device="cpu",
        interpolation: str = "bilinear",
        binarize: bool = True,
    ) -> BitmapMasks:
        """RoIAlign (aligned=True, adaptive sampling) of mask ``inds[k]`` in box ``bboxes[k]``.

        Same sampling as MMDetection's mask targets: box corners are continuous pixel
        coordinates, so a box [0, 0, W, H] samples the whole mask. ``interpolation`` is
        accepted for interface compatibility; RoIAlign always samples bilinearly.
        Returns uint8 masks thresholded at 0.5, or float masks when ``binarize=False``.
        """
        out_h, out_w = image_ops.check_shape(out_shape)
        boxes = torch.as_tensor(bboxes, device=device)
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise ValueError(
                f"crop_and_resize: bboxes must be (K, 4) xyxy, got {tuple(boxes.shape)}"
            )
        if len(self) == 0 or len(boxes) == 0:
            return self._new(np.zeros((0, out_h, out_w), dtype=np.uint8), out_h, out_w)
        selection = instance_positions(inds, len(self), "BitmapMasks.crop_and_resize inds")
        if len(selection) != len(boxes):
            raise ValueError(
                f"crop_and_resize: got {len(boxes)} bboxes but {len(selection)} inds; "
                "they pair up one to one"
            )
        try:
            from torchvision.ops import roi_align
        except ImportError as error:
            raise ImportError(
                "BitmapMasks.crop_and_resize needs torchvision (pip install torchvision)"
            ) from error
        if not boxes.is_floating_point():
            boxes = boxes.float()
        # Each used mask enters RoIAlign once; rois pick it by batch index.
        used, batch_index = np.unique(selection, return_inverse=True)
        masks = torch.from_numpy(self.masks[used]).to(device=device, dtype=boxes.dtype)
        batch_index = torch.from_numpy(batch_index).to(device=device, dtype=boxes.dtype)
        rois = torch.cat([batch_index[:, None], boxes], 1)
        sampled = roi_align(
            masks[:, None], rois, (out_h, out_w), spatial_scale=1.0, sampling_ratio=0, aligned=True
        ).squeeze(1)
        if binarize:
            sampled = (sampled >= 0.5).to(torch.uint8)
        return self._new(sampled.cpu().numpy(), out_h, out_w)

    def expand(self, expanded_h: int, expanded_w: int, top: int, left: int) -> BitmapMasks:
        if top < 0 or left < 0 or top + self.height > expanded_h or left + self.width > expanded_w:
            raise ValueError(
                f"expand: masks of ({self.height}, {self.width}) at top={top}, left={left} do "
                f"not fit in ({expanded_h}, {expanded_w})"
            )
        expanded = np.zeros((len(self), expanded_h, expanded_w), dtype=self.masks.dtype)
        expanded[:, top : top + self.height, left : left + self.width] = self.masks
        return self._new(expanded, expanded_h, expanded_w)

    def _warped(self, matrix, out_shape, border_value, interpolation) -> BitmapMasks:
        out_shape = image_ops.check_shape(out_shape)
        warped = image_ops.warp_masks(self.masks, matrix, out_shape, border_value, interpolation)
        return self._new(warped, *out_shape)

    def translate(
        self, out_shape, offset, direction="horizontal", border_value=0, interpolation="bilinear"
    ) -> BitmapMasks:
        matrix = image_ops.translation_matrix(offset, direction)
        return self._warped(matrix, out_shape, border_value, interpolation)

    def shear(
        self, out_shape, magnitude, direction="horizontal", border_value=0, interpolation="bilinear"
    ) -> BitmapMasks:
        matrix = image_ops.shear_matrix(magnitude, direction)
        return self._warped(matrix, out_shape, border_value, interpolation)

    def rotate(
        self,
        out_shape,
        angle,
        center=None,
        scale=1.0,
        border_value=0,
        interpolation="bilinear",
    ) -> BitmapMasks:
        center = default_center(self.height, self.width) if center is None else center
        matrix = image_ops.rotation_matrix(angle, center, scale)
        return self._warped(matrix, out_shape, border_value, interpolation)

    @property
    def areas(self) -> np.ndarray:
        return self.masks.sum((1, 2))

    def to_ndarray(self) -> np.ndarray:
        return self.masks

    def to_tensor(self, dtype, device) -> torch.Tensor:
        return torch.tensor(self.masks, dtype=dtype, device=device)

    def _enclosing_boxes(self) -> torch.Tensor:
        return mask2bbox(torch.from_numpy(self.masks))

    @classmethod
    def _concatenate(cls, masks: Sequence[BitmapMasks]) -> BitmapMasks:
        first = masks[0]
        return cls(np.concatenate([m.masks for m in masks]), first.height, first.width)

    @classmethod
    def random(
        cls, num_masks: int = 3, height: int = 32, width: int = 32, dtype=np.uint8, rng=None
    ) -> BitmapMasks:
        """Random masks (each pixel set with probability 0.9) for demos and tests.

        ``rng`` is anything np.random.default_rng accepts (None, a seed, a Generator).
        """
        rng = np.random.default_rng(rng)
        return cls((rng.random((num_masks, height, width)) > 0.1).astype(dtype), height, width)
