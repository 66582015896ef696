"""BatchShapePolicy: per-batch letterbox shapes for evaluation ("rectangular inference").

Evaluating every image letterboxed to 640 x 640 wastes compute on padding. Instead the
images are sorted by aspect ratio and batched in that order, and each batch gets the
smallest stride-aligned shape that holds its images at ``img_size``: LetterResize reads
it from ``results['batch_shape']``. Same rule as YOLOv5/Ultralytics' rect batches.
"""

from __future__ import annotations

import numpy as np


class BatchShapePolicy:
    """Sort records by h/w and give each batch of ``batch_size`` a ``batch_shape`` (h, w).

    For a batch whose h/w ratios lie in [lo, hi] the shape, in units of ``img_size``, is
    (hi, 1) if hi < 1 (all landscape), (1, 1 / lo) if lo > 1 (all portrait), else (1, 1);
    it becomes ``ceil(shape * img_size / size_divisor + extra_pad_ratio) * size_divisor``
    pixels.

    The returned records must be batched in order, with this ``batch_size``, for the
    shapes to fit (a sequential sampler, the dataloader's batch size).

    Args:
        batch_size: evaluation batch size per process.
        img_size: the long side images are resized to.
        size_divisor: the network's largest stride.
        extra_pad_ratio: extra padding, in strides (0.5 as YOLOv5).
    """

    def __init__(self, batch_size: int = 32, img_size: int = 640, size_divisor: int = 32,
                 extra_pad_ratio: float = 0.5):
        for name, value in (("batch_size", batch_size), ("img_size", img_size),
                            ("size_divisor", size_divisor)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"BatchShapePolicy: {name} must be a positive int, got {value!r}")
        self.batch_size = batch_size
        self.img_size = img_size
        self.size_divisor = size_divisor
        self.extra_pad_ratio = extra_pad_ratio

    def __call__(self, data_list: list[dict]) -> list[dict]:
        """The records sorted by h/w, each with ``batch_shape`` (int64 (2,) h, w) set.

        Every record needs its image's ``width`` and ``height``.
        """
        if not data_list:
            return data_list
        missing = [i for i, info in enumerate(data_list) if "width" not in info or "height" not in info]
        if missing:
            raise KeyError(f"BatchShapePolicy: records {missing[:5]} have no 'width'/'height'; "
                           f"the dataset must record each image's size")
        sizes = np.array([(info["height"], info["width"]) for info in data_list], dtype=np.float64)
        aspect = sizes[:, 0] / sizes[:, 1]
        order = np.argsort(aspect, kind="stable")
        aspect = aspect[order]
        starts = np.arange(0, len(aspect), self.batch_size)
        lowest = np.minimum.reduceat(aspect, starts)
        highest = np.maximum.reduceat(aspect, starts)
        shapes = np.ones((len(starts), 2))
        landscape, portrait = highest < 1, lowest > 1
        shapes[landscape, 0] = highest[landscape]
        shapes[portrait, 1] = 1 / lowest[portrait]
        batch_shapes = (np.ceil(shapes * self.img_size / self.size_divisor + self.extra_pad_ratio)
                        .astype(np.int64) * self.size_divisor)
        sorted_list = [data_list[i] for i in order]
        for position, info in enumerate(sorted_list):
            info["batch_shape"] = batch_shapes[position // self.batch_size]
        return sorted_list
