"""AspectRatioBatchSampler: batches of images that are all landscape or all portrait."""

from __future__ import annotations

import math
from collections.abc import Iterator

from torch.utils.data import BatchSampler, Sampler


class AspectRatioBatchSampler(BatchSampler):
    """Groups the indices of ``sampler`` into batches of images with width >= height
    and batches of images with width < height, so padding a batch wastes little.

    Leftovers of both groups are batched together at the end (unless ``drop_last``).
    Needs ``sampler.dataset.get_data_info(idx)`` with ``width`` and ``height``.
    """

    def __init__(self, sampler: Sampler, batch_size: int, drop_last: bool = False):
        if not isinstance(sampler, Sampler):
            raise TypeError(f"sampler must be a torch Sampler, got {type(sampler).__name__}")
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        buckets: list[list[int]] = [[], []]  # [portrait, landscape]
        for idx in self.sampler:
            info = self.sampler.dataset.get_data_info(idx)
            bucket = buckets[int(info["width"] >= info["height"])]
            bucket.append(idx)
            if len(bucket) == self.batch_size:
                yield bucket[:]
                bucket.clear()
        left = buckets[0] + buckets[1]
        for start in range(0, len(left), self.batch_size):
            batch = left[start:start + self.batch_size]
            if len(batch) == self.batch_size or not self.drop_last:
                yield batch

    def __len__(self) -> int:
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return math.ceil(len(self.sampler) / self.batch_size)
