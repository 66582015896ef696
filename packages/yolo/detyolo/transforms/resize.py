"""YOLO resizing: the long-side resize and the letterbox (resize, then pad to a shape).

The YOLO test pipeline is ``YOLOv5KeepRatioResize(640)`` followed by
``LetterResize(640, allow_scale_up=False, pad_val=dict(img=114))``: the first brings the
long side to 640 (downscaling with INTER_AREA), the second fits the result into the
target shape (640 x 640, or the per-batch shape of BatchShapePolicy) and pads it
evenly, recording the padding as ``pad_param`` so predictions can be mapped back.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence

import numpy as np

from detcore.structures.bbox import autocast_box_type
from detdatasets.io import impad, imresize
from detdatasets.transforms.base import check_image, record_homography, translation_matrix
from detdatasets.transforms.resize import Resize

#: LetterResize(use_mini_pad=True) pads each side only to a multiple of this (MMYOLO's 32).
MINI_PAD_STRIDE = 32


class YOLOv5KeepRatioResize(Resize):
    """Resize keeping the aspect ratio so the image fits ``scale`` (long edge <= max(scale),
    short edge <= min(scale)), with YOLOv5's rounding: new sides are truncated to ints,
    and a shrink uses INTER_AREA, an enlargement bilinear.

    Required Keys: img, gt_bboxes (optional), gt_masks (optional), gt_seg_map (optional)
    Modified Keys: img, img_shape, gt_bboxes, gt_masks, gt_seg_map
    Added Keys: scale, scale_factor (w_scale, h_scale), keep_ratio, homography_matrix

    Args:
        scale: int, or (w, h) bound of the edges.
        keep_ratio: must be True (kept for MMYOLO configs).
        clip_object_border: clip boxes to the resized image.
    """

    def __init__(self, scale: int | Sequence[int], keep_ratio: bool = True,
                 clip_object_border: bool = True, backend: str = "cv2"):
        if keep_ratio is not True:
            raise ValueError(f"{type(self).__name__}: keep_ratio must be True, got {keep_ratio!r}; "
                             f"use Resize for a resize that changes the aspect ratio")
        super().__init__(scale=scale, keep_ratio=True, clip_object_border=clip_object_border,
                         backend=backend)

    @autocast_box_type()
    def transform(self, results: dict) -> dict:
        img = check_image(results, type(self).__name__)
        h, w = img.shape[:2]
        ratio = min(max(self.scale) / max(h, w), min(self.scale) / min(h, w))
        if ratio != 1:
            img = imresize(img, (int(w * ratio), int(h * ratio)),
                           interpolation="area" if ratio < 1 else "bilinear")
        results["img"] = img
        results["img_shape"] = img.shape[:2]
        results["scale"] = tuple(self.scale)
        results["scale_factor"] = (img.shape[1] / w, img.shape[0] / h)
        results["keep_ratio"] = True
        self._resize_annotations(results)
        return results


def _pad_values(pad_val: float | Mapping) -> dict:
    if isinstance(pad_val, numbers.Number):
        return {"img": pad_val, "seg": 255}
    if not isinstance(pad_val, Mapping):
        raise TypeError(f"LetterResize: pad_val must be a number or a dict like "
                        f"dict(img=114, seg=255), got {pad_val!r}")
    return {"img": 0, "seg": 255, **pad_val}


class LetterResize(Resize):
    """Letterbox: resize keeping the ratio to fit the target shape, then pad it evenly.

    The target (h, w) is ``results['batch_shape']`` when the dataset set one
    (BatchShapePolicy), else ``scale`` (w, h). The new sides are ``round(side * r)`` with
    ``r = min(target_h / h, target_w / w)`` (capped at 1 unless ``allow_scale_up``); the
    padding is split with the smaller half on top/left, as Ultralytics' LetterBox.

    ``pad_param`` is (top, bottom, left, right) in pixels (or the halves of the padding
    with ``half_pad_param``). After an earlier resize (YOLOv5KeepRatioResize),
    ``scale_factor`` becomes the product of both steps' factors, so it maps the original
    image onto this one; an earlier ``pad_param`` is scaled and added.

    Required Keys: img, batch_shape (optional), gt_bboxes (optional), gt_masks (optional),
    gt_seg_map (optional)
    Modified Keys: img, img_shape, gt_bboxes, gt_masks, gt_seg_map, scale_factor, pad_param
    Added Keys: scale, keep_ratio, pad_param (float32 (4,)), homography_matrix

    Args:
        scale: int, or target (w, h).
        pad_val: number for the image, or dict(img=..., seg=...) (defaults img 0,
            seg 255).
        use_mini_pad: pad each side only up to a multiple of 32 (rectangular output).
        stretch_only: resize to the target exactly, ignoring the aspect ratio; no padding.
        allow_scale_up: let small images grow (False for evaluation, as YOLOv5).
        half_pad_param: report half the padding per side as floats.
        clip_object_border: clip boxes to the output image.
        interpolation: image interpolation (masks and seg maps use nearest).
    """

    def __init__(self, scale: int | Sequence[int], pad_val: float | Mapping = 0,
                 use_mini_pad: bool = False, stretch_only: bool = False,
                 allow_scale_up: bool = True, half_pad_param: bool = False,
                 clip_object_border: bool = True, backend: str = "cv2",
                 interpolation: str = "bilinear"):
        super().__init__(scale=scale, keep_ratio=True, clip_object_border=clip_object_border,
                         backend=backend, interpolation=interpolation)
        if use_mini_pad and stretch_only:
            raise ValueError("LetterResize: use_mini_pad and stretch_only exclude each other")
        self.pad_val = _pad_values(pad_val)
        self.use_mini_pad = use_mini_pad
        self.stretch_only = stretch_only
        self.allow_scale_up = allow_scale_up
        self.half_pad_param = half_pad_param

    def _target_shape(self, results: dict) -> tuple[int, int]:
        batch_shape = results.get("batch_shape")
        if batch_shape is None:
            return int(self.scale[1]), int(self.scale[0])
        if len(batch_shape) != 2:
            raise ValueError(f"LetterResize: results['batch_shape'] must be (h, w), got "
                             f"{batch_shape!r}")
        return int(batch_shape[0]), int(batch_shape[1])

    def _layout(self, h: int, w: int, target_h: int, target_w: int):
        """(new_h, new_w) of the resized image and (pad_h, pad_w) added around it."""
        if self.stretch_only:
            return (target_h, target_w), (0, 0)
        ratio = min(target_h / h, target_w / w)
        if not self.allow_scale_up:
            ratio = min(ratio, 1.0)
        new_h, new_w = max(round(h * ratio), 1), max(round(w * ratio), 1)
        pad_h, pad_w = target_h - new_h, target_w - new_w
        if self.use_mini_pad:
            pad_h, pad_w = pad_h % MINI_PAD_STRIDE, pad_w % MINI_PAD_STRIDE
        return (new_h, new_w), (pad_h, pad_w)

    @autocast_box_type()
    def transform(self, results: dict) -> dict:
        img = check_image(results, type(self).__name__)
        h, w = img.shape[:2]
        target_h, target_w = self._target_shape(results)
        (new_h, new_w), (pad_h, pad_w) = self._layout(h, w, target_h, target_w)
        if (new_h, new_w) != (h, w):
            img = imresize(img, (new_w, new_h), interpolation=self.interpolation)
        top, left = pad_h // 2, pad_w // 2
        padding = (left, top, pad_w - left, pad_h - top)
        if pad_h or pad_w:
            img = impad(img, padding=padding, pad_val=self.pad_val["img"])
        step_factor = (new_w / w, new_h / h)

        results["img"] = img
        results["img_shape"] = img.shape[:2]
        results["scale"] = (target_w, target_h)
        results["keep_ratio"] = not self.stretch_only
        self._letterbox_annotations(results, step_factor, (new_h, new_w), (top, left))

        earlier_factor = results.get("scale_factor", (1.0, 1.0))
        results["scale_factor"] = (step_factor[0] * earlier_factor[0],
                                   step_factor[1] * earlier_factor[1])
        if self.half_pad_param:
            pad_param = [pad_h / 2, pad_h / 2, pad_w / 2, pad_w / 2]
        else:
            pad_param = [top, pad_h - top, left, pad_w - left]
        pad_param = np.array(pad_param, dtype=np.float32)
        if "pad_param" in results:  # top, bottom by the height factor; left, right by the width's
            pad_param += results["pad_param"] * np.repeat([step_factor[1], step_factor[0]], 2)
        results["pad_param"] = pad_param
        return results

    def _letterbox_annotations(self, results: dict, factor: tuple[float, float],
                               new_shape: tuple[int, int], offset: tuple[int, int]) -> None:
        """Scale boxes, masks and the seg map by ``factor`` and shift them by the (top, left)
        ``offset`` of the padding."""
        img_h, img_w = results["img_shape"]
        top, left = offset
        boxes = results.get("gt_bboxes")
        if boxes is not None:
            boxes.rescale_(factor)
            boxes.translate_((left, top))
            if self.clip_object_border:
                boxes.clip_((img_h, img_w))
        if results.get("gt_masks") is not None:
            results["gt_masks"] = results["gt_masks"].resize(new_shape).expand(img_h, img_w, top, left)
        if results.get("gt_seg_map") is not None:
            seg = imresize(results["gt_seg_map"], new_shape[::-1], interpolation="nearest")
            results["gt_seg_map"] = impad(seg, padding=(left, top, img_w - left - new_shape[1],
                                                        img_h - top - new_shape[0]),
                                          pad_val=self.pad_val["seg"])
        record_homography(results, translation_matrix(left, top) @ np.diag([*factor, 1.0]))
