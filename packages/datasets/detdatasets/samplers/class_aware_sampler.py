"""ClassAwareSampler: sample classes uniformly, then images of the drawn class."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler

from detdatasets.samplers.distributed import resolve_rank, sync_random_seed


class RandomCycleIter:
    """Cycles through ``data`` in a random order, reshuffling after each full cycle."""

    def __init__(self, data: Sequence[int], generator: torch.Generator | None = None):
        self.data = list(data)
        self.length = len(self.data)
        self.generator = generator
        self.order = torch.randperm(self.length, generator=generator).tolist()
        self.i = 0

    def __iter__(self) -> RandomCycleIter:
        return self

    def __len__(self) -> int:
        return self.length

    def __next__(self) -> int:
        if self.i == self.length:
            self.order = torch.randperm(self.length, generator=self.generator).tolist()
            self.i = 0
        item = self.data[self.order[self.i]]
        self.i += 1
        return item


class ClassAwareSampler(Sampler):
    """Class-balanced sampling (MMDetection's, after "Relay Backpropagation").

    Each step draws the next class of a randomly cycled list of the classes that occur,
    then ``num_sample_class`` images containing it (each class cycles through its
    images). One epoch yields as many indices as the dataset has images, split between
    ranks; the order depends on ``seed + epoch``. Needs ``dataset.get_cat_ids(idx)``
    and ``dataset.metainfo['classes']``.
    """

    def __init__(self, dataset, seed: int | None = None, num_sample_class: int = 1, *,
                 rank: int | None = None, world_size: int | None = None):
        if not isinstance(num_sample_class, int) or num_sample_class < 1:
            raise ValueError(f"num_sample_class must be a positive int, got {num_sample_class!r}")
        self.rank, self.world_size = resolve_rank(rank, world_size)
        self.dataset = dataset
        self.seed = sync_random_seed() if seed is None else seed
        self.epoch = 0
        self.num_sample_class = num_sample_class
        self.cat_dict = self.get_cat2imgs()
        self.num_samples = math.ceil(len(dataset) / self.world_size)
        self.total_size = self.num_samples * self.world_size
        self.valid_cat_inds = [c for c, imgs in self.cat_dict.items() if imgs]
        if not self.valid_cat_inds:
            raise ValueError("ClassAwareSampler: no image of the dataset has an object")
        self.num_classes = len(self.valid_cat_inds)

    def get_cat2imgs(self) -> dict[int, list[int]]:
        """For each class label, the indices of the images that contain it."""
        classes = self.dataset.metainfo.get("classes")
        if not classes:
            raise ValueError("ClassAwareSampler needs dataset.metainfo['classes']")
        cat2imgs: dict[int, list[int]] = {label: [] for label in range(len(classes))}
        for idx in range(len(self.dataset)):
            for label in set(self.dataset.get_cat_ids(idx)):
                cat2imgs[label].append(idx)
        return cat2imgs

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator()
        generator.manual_seed(self.epoch + self.seed)
        class_cycle = RandomCycleIter(self.valid_cat_inds, generator=generator)
        image_cycles = {c: RandomCycleIter(self.cat_dict[c], generator=generator)
                        for c in self.valid_cat_inds}
        num_bins = math.ceil(self.total_size / self.num_classes / self.num_sample_class)
        indices = []
        for _ in range(num_bins):
            for _ in range(self.num_classes):
                cycle = image_cycles[next(class_cycle)]
                indices += [next(cycle) for _ in range(self.num_sample_class)]
        indices = indices[:self.total_size]
        offset = self.num_samples * self.rank
        return iter(indices[offset:offset + self.num_samples])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
