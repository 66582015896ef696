"""Multi-image mixing: Mosaic (four images on a 2x canvas) and MixUp (blend with another).

Both take their extra images from ``results['mix_results']``, which the
MultiImageMixDataset wrapper fills with the samples at ``get_indexes(dataset)`` after
running the wrapped dataset's own (loading) pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from detcore.structures.bbox import autocast_box_type
from detdatasets.io import imresize
from detdatasets.transforms.base import (
    BaseTransform,
    check_image,
    concat_instances,
    keep_instances,
    mixed_results,
    record_homography,
    refuse_seg_map,
)

#: Mosaic's quadrants, each with whether its image lies before the centre in x and in y.
QUADRANTS = {"top_left": (True, True), "top_right": (False, True),
             "bottom_left": (True, False), "bottom_right": (False, False)}


def _place(center: int, size: int, limit: int, before: bool) -> tuple[tuple, tuple]:
    """Along one axis: the (start, end) on the canvas and the (start, end) inside the image
    of an image of ``size`` that ends at ``center`` (before) or starts there, cut to
    [0, limit)."""
    if before:
        start, end = max(center - size, 0), center
        return (start, end), (size - (end - start), size)
    start, end = center, min(center + size, limit)
    return (start, end), (0, end - start)


class Mosaic(BaseTransform):
    """Put four images around a random centre on a (2h, 2w) canvas (``img_scale`` = (w, h)).

    Each image is resized keeping its ratio to fit in ``img_scale`` and placed in one
    quadrant, touching the centre, and cut by the canvas. Boxes (and masks) follow their
    image; boxes left outside the canvas are dropped with their labels, flags and masks.
    The output is 2x ``img_scale``: RandomAffine(border=(-w // 2, -h // 2)) usually
    follows to crop it back.

    Required Keys: img, gt_bboxes, gt_bboxes_labels, gt_ignore_flags, gt_masks (optional),
    mix_results (three more such dicts)
    Modified Keys: img, img_shape, gt_bboxes, gt_bboxes_labels, gt_ignore_flags, gt_masks
    Added Keys: homography_matrix (of the first image's placement)

    Args:
        img_scale: (w, h) of each quadrant.
        center_ratio_range: centre position as a ratio of ``img_scale``, drawn per axis.
        bbox_clip_border: clip boxes to the canvas.
        pad_val: canvas fill value.
        prob: probability of applying the mosaic.
    """

    def __init__(self, img_scale: Sequence[int] = (640, 640),
                 center_ratio_range: Sequence[float] = (0.5, 1.5), bbox_clip_border: bool = True,
                 pad_val: float = 114.0, prob: float = 1.0):
        if not 0 <= prob <= 1:
            raise ValueError(f"{type(self).__name__}: prob must be in [0, 1], got {prob}")
        self.img_scale = tuple(img_scale)
        self.center_ratio_range = tuple(center_ratio_range)
        self.bbox_clip_border = bbox_clip_border
        self.pad_val = pad_val
        self.prob = prob

    def get_indexes(self, dataset) -> list[int]:
        """Three random dataset positions for the other quadrants."""
        return [int(np.random.randint(0, len(dataset))) for _ in range(3)]

    @autocast_box_type()
    def transform(self, results: dict) -> dict:
        if np.random.uniform(0, 1) > self.prob:
            return results
        owner = type(self).__name__
        mixed = mixed_results(results, 3, owner)
        img = check_image(results, owner)
        for part in (results, *mixed):
            refuse_seg_map(part, owner)
        width, height = self.img_scale
        canvas_h, canvas_w = 2 * height, 2 * width
        canvas = np.full((canvas_h, canvas_w, *img.shape[2:]), self.pad_val, dtype=img.dtype)
        center_x = int(np.random.uniform(*self.center_ratio_range) * width)
        center_y = int(np.random.uniform(*self.center_ratio_range) * height)

        pieces = []
        for (x_before, y_before), part in zip(QUADRANTS.values(), [results, *mixed]):
            part_img = check_image(part, owner)
            h, w = part_img.shape[:2]
            ratio = min(height / h, width / w)
            new_h, new_w = int(h * ratio), int(w * ratio)
            part_img = imresize(part_img, (new_w, new_h))
            (x1, x2), (crop_x1, crop_x2) = _place(center_x, new_w, canvas_w, x_before)
            (y1, y2), (crop_y1, crop_y2) = _place(center_y, new_h, canvas_h, y_before)
            canvas[y1:y2, x1:x2] = part_img[crop_y1:crop_y2, crop_x1:crop_x2]

            shift = (x1 - crop_x1, y1 - crop_y1)
            piece = {key: part[key] for key in ("gt_bboxes_labels", "gt_ignore_flags",
                                                "gt_instances_ids") if key in part}
            boxes = part["gt_bboxes"].clone()
            boxes.rescale_([ratio, ratio])
            boxes.translate_(shift)
            piece["gt_bboxes"] = boxes
            if part.get("gt_masks") is not None:
                piece["gt_masks"] = (part["gt_masks"].resize((new_h, new_w))
                                     .crop(np.array([crop_x1, crop_y1, crop_x2, crop_y2]))
                                     .expand(canvas_h, canvas_w, y1, x1))
            pieces.append(piece)
            if part is results:
                record_homography(results, np.array(
                    [[ratio, 0, shift[0]], [0, ratio, shift[1]], [0, 0, 1]]))

        results.update(concat_instances(pieces, owner))
        if self.bbox_clip_border:
            results["gt_bboxes"].clip_((canvas_h, canvas_w))
        keep_instances(results, results["gt_bboxes"].is_inside((canvas_h, canvas_w)).numpy())
        results["img"] = canvas
        results["img_shape"] = canvas.shape[:2]
        return results


class MixUp(BaseTransform):
    """Blend the image 50/50 with another one that is resized, jittered in scale, maybe
    flipped and randomly cropped to the image's size (YOLOX's MixUp); the objects of both
    are kept.

    The other image is resized keeping its ratio to fit ``img_scale`` (w, h), pasted at
    the top left of a ``pad_val`` canvas of that size, the canvas scaled by a factor drawn
    from ``ratio_range`` and flipped horizontally with probability 1 - ``flip_ratio`` (as
    in MMDetection), padded to at least the image's size and cropped at a random offset.
    If the other image has no boxes, the sample is returned unchanged.

    Required Keys: img, gt_bboxes, gt_bboxes_labels, gt_ignore_flags, gt_masks (optional),
    mix_results (one more such dict)
    Modified Keys: img (uint8), img_shape, gt_bboxes, gt_bboxes_labels, gt_ignore_flags,
    gt_masks

    Args:
        img_scale: (w, h) canvas for the other image.
        ratio_range: scale jitter range.
        flip_ratio: see above.
        pad_val: canvas fill value.
        max_iters: how many random draws :meth:`get_indexes` makes to find an image with
            boxes.
        bbox_clip_border: clip the other image's boxes to the output.
    """

    def __init__(self, img_scale: Sequence[int] = (640, 640),
                 ratio_range: Sequence[float] = (0.5, 1.5), flip_ratio: float = 0.5,
                 pad_val: float = 114.0, max_iters: int = 15, bbox_clip_border: bool = True):
        self.img_scale = tuple(img_scale)
        self.ratio_range = tuple(ratio_range)
        self.flip_ratio = flip_ratio
        self.pad_val = pad_val
        self.max_iters = max_iters
        self.bbox_clip_border = bbox_clip_border

    def get_indexes(self, dataset) -> int:
        """A random dataset position, redrawn (up to ``max_iters`` draws) while its sample
        has no boxes."""
        for _ in range(self.max_iters):
            index = int(np.random.randint(0, len(dataset)))
            if len(dataset[index]["gt_bboxes"]) != 0:
                break
        return index

    @autocast_box_type()
    def transform(self, results: dict) -> dict:
        owner = type(self).__name__
        other = mixed_results(results, 1, owner)[0]
        if len(other["gt_bboxes"]) == 0:
            return results
        for part in (results, other):
            refuse_seg_map(part, owner)
        img = check_image(results, owner)
        other_img = check_image(other, owner)
        jitter = np.random.uniform(*self.ratio_range)
        flip = np.random.uniform(0, 1) > self.flip_ratio

        # the other image, resized to fit img_scale, on a float canvas (its rounding is
        # MMDetection's: the canvas is truncated to uint8 after its resize)
        width, height = self.img_scale
        h, w = other_img.shape[:2]
        ratio = min(height / h, width / w)
        fitted_h, fitted_w = int(h * ratio), int(w * ratio)
        canvas = np.full((height, width, *other_img.shape[2:]), self.pad_val, dtype=np.float64)
        canvas[:fitted_h, :fitted_w] = imresize(other_img, (fitted_w, fitted_h))
        jittered_h, jittered_w = int(height * jitter), int(width * jitter)
        canvas = imresize(canvas, (jittered_w, jittered_h))
        if flip:
            canvas = canvas[:, ::-1]
        target_h, target_w = img.shape[:2]
        padded_h, padded_w = max(jittered_h, target_h), max(jittered_w, target_w)
        padded = np.full((padded_h, padded_w, *canvas.shape[2:]), self.pad_val)
        padded[:jittered_h, :jittered_w] = canvas
        y_offset = int(np.random.randint(0, padded_h - target_h)) if padded_h > target_h else 0
        x_offset = int(np.random.randint(0, padded_w - target_w)) if padded_w > target_w else 0
        window = (x_offset, y_offset, x_offset + target_w, y_offset + target_h)
        patch = padded[y_offset:window[3], x_offset:window[2]].astype(np.uint8)

        piece = {key: other[key] for key in ("gt_bboxes_labels", "gt_ignore_flags",
                                             "gt_instances_ids") if key in other}
        boxes = other["gt_bboxes"].clone()
        boxes.rescale_([ratio * jitter, ratio * jitter])
        if self.bbox_clip_border:
            boxes.clip_((jittered_h, jittered_w))
        if flip:
            boxes.flip_((jittered_h, jittered_w), direction="horizontal")
        boxes.translate_([-x_offset, -y_offset])
        if self.bbox_clip_border:
            boxes.clip_((target_h, target_w))
        piece["gt_bboxes"] = boxes
        if other.get("gt_masks") is not None:
            masks = (other["gt_masks"].resize((fitted_h, fitted_w)).pad((height, width))
                     .resize((jittered_h, jittered_w)))
            masks = masks.flip("horizontal") if flip else masks
            piece["gt_masks"] = masks.pad((padded_h, padded_w)).crop(np.array(window))

        results.update(concat_instances([results, piece], owner))
        keep_instances(results, results["gt_bboxes"].is_inside((target_h, target_w)).numpy())
        blended = 0.5 * img.astype(np.float32) + 0.5 * patch.astype(np.float32)
        results["img"] = blended.astype(np.uint8)
        results["img_shape"] = blended.shape[:2]
        return results
