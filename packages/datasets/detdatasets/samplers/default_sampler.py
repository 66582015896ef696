"""DefaultSampler and InfiniteSampler: MMEngine's distributed-aware, seeded samplers."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sized

import torch
from torch.utils.data import Sampler

from detdatasets.samplers.distributed import resolve_rank, sync_random_seed


class DefaultSampler(Sampler):
    """Each rank takes every ``world_size``-th index of one (shuffled) pass over the data.

    The permutation depends on ``seed + epoch`` (call :meth:`set_epoch` each epoch), so
    all ranks agree on it and their shares are disjoint. With ``round_up`` the pass is
    padded by repeating indices until every rank gets the same number of samples.
    ``rank`` and ``world_size`` default to torch.distributed's.
    """

    def __init__(self, dataset: Sized, shuffle: bool = True, seed: int | None = None,
                 round_up: bool = True, *, rank: int | None = None,
                 world_size: int | None = None):
        self.rank, self.world_size = resolve_rank(rank, world_size)
        self.dataset = dataset
        self.shuffle = shuffle
        self.seed = sync_random_seed() if seed is None else seed
        self.epoch = 0
        self.round_up = round_up
        if round_up:
            self.num_samples = math.ceil(len(dataset) / self.world_size)
            self.total_size = self.num_samples * self.world_size
        else:
            self.num_samples = math.ceil((len(dataset) - self.rank) / self.world_size)
            self.total_size = len(dataset)

    def __iter__(self) -> Iterator[int]:
        if self.shuffle:
            generator = torch.Generator()
            generator.manual_seed(self.seed + self.epoch)
            indices = torch.randperm(len(self.dataset), generator=generator).tolist()
        else:
            indices = list(range(len(self.dataset)))
        if self.round_up and indices:
            indices = (indices * (self.total_size // len(indices) + 1))[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.world_size])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use the permutation of ``epoch`` (same on every rank)."""
        self.epoch = epoch


class InfiniteSampler(Sampler):
    """An endless stream of passes over the data (reshuffled each pass when
    ``shuffle``), split between ranks; for iteration-based training."""

    def __init__(self, dataset: Sized, shuffle: bool = True, seed: int | None = None, *,
                 rank: int | None = None, world_size: int | None = None):
        self.rank, self.world_size = resolve_rank(rank, world_size)
        self.dataset = dataset
        self.shuffle = shuffle
        self.seed = sync_random_seed() if seed is None else seed
        self.size = len(dataset)
        self.indices = self._indices_of_rank()

    def _infinite_indices(self) -> Iterator[int]:
        generator = torch.Generator()
        generator.manual_seed(self.seed)
        while True:
            if self.shuffle:
                yield from torch.randperm(self.size, generator=generator).tolist()
            else:
                yield from range(self.size)

    def _indices_of_rank(self) -> Iterator[int]:
        yield from itertools.islice(self._infinite_indices(), self.rank, None, self.world_size)

    def __iter__(self) -> Iterator[int]:
        yield from self.indices

    def __len__(self) -> int:
        return self.size

    def set_epoch(self, epoch: int) -> None:
        """Nothing to do: the stream never restarts."""
