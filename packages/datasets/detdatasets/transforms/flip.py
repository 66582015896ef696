"""RandomFlip: mirror the image and its annotations horizontally, vertically or both."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from detcore.structures.bbox import autocast_box_type
from detdatasets.io import imflip
from detdatasets.transforms.base import BaseTransform, check_image, record_homography

DIRECTIONS = ("horizontal", "vertical", "diagonal")


def flip_homography(direction: str, height: int, width: int) -> np.ndarray:
    """(3, 3) float32 homography of a flip inside an image of (height, width)."""
    sx, tx = (-1, width) if direction in ("horizontal", "diagonal") else (1, 0)
    sy, ty = (-1, height) if direction in ("vertical", "diagonal") else (1, 0)
    return np.array([[sx, 0, tx], [0, sy, ty], [0, 0, 1]], dtype=np.float32)


class RandomFlip(BaseTransform):
    """Flip with probability ``prob`` in ``direction``.

    ``prob`` and ``direction`` are each one value or a list: one direction with one
    probability; a list of directions sharing one probability (split evenly); or a list
    of directions with a list of probabilities (their sum <= 1 is the flip probability).

    Required Keys: img, gt_bboxes (optional), gt_masks (optional), gt_seg_map (optional)
    Modified Keys: img, gt_bboxes, gt_masks, gt_seg_map
    Added Keys: flip, flip_direction (None when not flipped), homography_matrix,
    swap_seg_labels (when a seg map is flipped)

    Args:
        prob: flip probability (or one per direction).
        direction: 'horizontal', 'vertical', 'diagonal', or a list of them.
        swap_seg_labels: pairs of seg labels exchanged by a flip (e.g. left/right arm).
    """

    def __init__(self, prob: float | Sequence[float] | None = None,
                 direction: str | Sequence[str] = "horizontal",
                 swap_seg_labels: Sequence[Sequence[int]] | None = None):
        owner = type(self).__name__
        directions = [direction] if isinstance(direction, str) else list(direction)
        unknown = [d for d in directions if d not in DIRECTIONS]
        if unknown or not directions:
            raise ValueError(f"{owner}: direction must be one of {DIRECTIONS} or a list of them, "
                             f"got {direction!r}")
        if isinstance(prob, numbers.Real):
            if not 0 <= prob <= 1:
                raise ValueError(f"{owner}: prob must be in [0, 1], got {prob}")
            probs, no_flip = [prob / len(directions)] * len(directions), 1.0 - prob
        elif isinstance(prob, Sequence) and all(isinstance(p, numbers.Real) for p in prob):
            if len(prob) != len(directions) or not 0 <= sum(prob) <= 1:
                raise ValueError(f"{owner}: a list prob needs one probability per direction "
                                 f"summing to at most 1, got prob={prob!r} for "
                                 f"direction={direction!r}")
            probs, no_flip = list(prob), 1 - sum(prob)
        else:
            raise ValueError(f"{owner}: prob must be a float or a list of floats, got {prob!r}")
        for pair in swap_seg_labels or ():
            if len(pair) != 2:
                raise ValueError(f"{owner}: swap_seg_labels must hold label pairs, got {pair!r}")
        self.prob = prob
        self.direction = direction
        self.swap_seg_labels = swap_seg_labels
        self._choices = [*directions, None]
        self._choice_probs = [*probs, no_flip]

    def _choose_direction(self) -> str | None:
        return self._choices[np.random.choice(len(self._choices), p=self._choice_probs)]

    def transform(self, results: dict) -> dict:
        direction = self._choose_direction()
        results["flip"] = direction is not None
        results["flip_direction"] = direction
        if direction is not None:
            self._flip(results, direction)
        return results

    @autocast_box_type()
    def _flip(self, results: dict, direction: str) -> dict:
        img = imflip(check_image(results, type(self).__name__), direction)
        results["img"] = img
        height, width = img.shape[:2]
        if results.get("gt_bboxes") is not None:
            results["gt_bboxes"].flip_((height, width), direction)
        if results.get("gt_masks") is not None:
            results["gt_masks"] = results["gt_masks"].flip(direction)
        if results.get("gt_seg_map") is not None:
            results["gt_seg_map"] = self._flip_seg_map(results["gt_seg_map"], direction)
            results["swap_seg_labels"] = self.swap_seg_labels
        record_homography(results, flip_homography(direction, height, width))
        return results

    def _flip_seg_map(self, seg_map: np.ndarray, direction: str) -> np.ndarray:
        flipped = imflip(seg_map, direction)
        if not self.swap_seg_labels:
            return flipped
        swapped = flipped.copy()
        for first, second in self.swap_seg_labels:
            swapped[flipped == first] = second
            swapped[flipped == second] = first
        return swapped
