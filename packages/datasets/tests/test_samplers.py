"""Samplers: torch's DistributedSampler as the reference for DefaultSampler, direct torch
permutations for InfiniteSampler, hand-computed batches and class cycles."""

import itertools

import pytest
import torch
from torch.utils.data import DistributedSampler

from detdatasets.samplers import (
    AspectRatioBatchSampler,
    ClassAwareSampler,
    DefaultSampler,
    InfiniteSampler,
)


class Sizes:
    """A dataset of image sizes and labels, enough for every sampler."""

    def __init__(self, sizes, labels=None, classes=("a", "b", "c")):
        self.sizes = sizes
        self.labels = labels or [[0]] * len(sizes)
        self.metainfo = dict(classes=classes)

    def __len__(self):
        return len(self.sizes)

    def get_data_info(self, idx):
        width, height = self.sizes[idx]
        return dict(width=width, height=height)

    def get_cat_ids(self, idx):
        return self.labels[idx]


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("length,world_size", [(10, 3), (12, 4), (5, 1), (2, 3)])
def test_default_sampler_matches_torch_distributed_sampler(shuffle, length, world_size):
    dataset = list(range(length))
    for rank in range(world_size):
        for epoch in (0, 3):
            ours = DefaultSampler(dataset, shuffle=shuffle, seed=7, rank=rank,
                                  world_size=world_size)
            ref = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=shuffle,
                                     seed=7)
            ours.set_epoch(epoch)
            ref.set_epoch(epoch)
            assert list(ours) == list(ref) and len(ours) == len(ref)


def test_default_sampler_without_round_up_splits_exactly_once():
    dataset = list(range(11))
    shares = [list(DefaultSampler(dataset, seed=1, round_up=False, rank=r, world_size=3))
              for r in range(3)]
    assert sorted(itertools.chain(*shares)) == dataset
    assert [len(s) for s in shares] == [4, 4, 3]
    assert [len(DefaultSampler(dataset, round_up=False, rank=r, world_size=3, seed=1))
            for r in range(3)] == [4, 4, 3]
    first = DefaultSampler(dataset, seed=1, rank=0, world_size=1)
    again = list(first)
    first.set_epoch(1)
    assert list(first) != again and sorted(first) == dataset
    with pytest.raises(ValueError, match=r"rank must be in \[0, world_size\)"):
        DefaultSampler(dataset, rank=3, world_size=3)


def test_infinite_sampler_streams_successive_permutations_split_by_rank():
    size, world_size = 5, 2
    generator = torch.Generator().manual_seed(11)
    stream = list(itertools.chain(*(torch.randperm(size, generator=generator).tolist()
                                    for _ in range(4))))
    for rank in range(world_size):
        sampler = InfiniteSampler(list(range(size)), seed=11, rank=rank, world_size=world_size)
        assert list(itertools.islice(iter(sampler), 8)) == stream[rank::world_size][:8]
        assert len(sampler) == size
    ordered = InfiniteSampler(list(range(3)), shuffle=False, seed=0, rank=1, world_size=2)
    assert list(itertools.islice(iter(ordered), 5)) == [1, 0, 2, 1, 0]


def test_aspect_ratio_batches_hand_computed():
    # landscape (w >= h): 0, 2, 3, 5; portrait: 1, 4, 6
    dataset = Sizes([(20, 10), (10, 20), (10, 10), (30, 10), (5, 9), (8, 8), (1, 2)])
    sampler = DefaultSampler(dataset, shuffle=False, seed=0, rank=0, world_size=1)
    batches = list(AspectRatioBatchSampler(sampler, batch_size=2))
    assert batches == [[0, 2], [1, 4], [3, 5], [6]]
    assert len(AspectRatioBatchSampler(sampler, batch_size=2)) == 4
    dropped = list(AspectRatioBatchSampler(sampler, batch_size=2, drop_last=True))
    assert dropped == [[0, 2], [1, 4], [3, 5]]
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        AspectRatioBatchSampler(sampler, 0)


def test_class_aware_sampler_visits_every_class_once_per_round():
    # each image holds one class; class c (no images) is never drawn
    labels = [[0], [0], [0], [0], [0], [0], [1], [1], [0], [0], [0], [1]]
    dataset = Sizes([(1, 1)] * len(labels), labels)
    sampler = ClassAwareSampler(dataset, seed=3, rank=0, world_size=1)
    indices = list(sampler)
    assert len(indices) == len(labels) == len(sampler)
    classes = [labels[i][0] for i in indices]
    for start in range(0, len(classes), 2):  # two valid classes: each round has both
        assert sorted(classes[start:start + 2]) == [0, 1]
    halves = [list(ClassAwareSampler(dataset, seed=3, rank=r, world_size=2)) for r in range(2)]
    assert halves[0] + halves[1] == indices  # ranks take consecutive slices of one list
    pairs = ClassAwareSampler(dataset, seed=3, num_sample_class=2, rank=0, world_size=1)
    per_class = [labels[i][0] for i in pairs]
    for start in range(0, len(per_class), 4):
        block = per_class[start:start + 4]
        assert block[0] == block[1] and block[2] == block[3] and block[0] != block[2]


def test_class_aware_sampler_needs_objects():
    with pytest.raises(ValueError, match="no image of the dataset has an object"):
        ClassAwareSampler(Sizes([(1, 1)], [[]]), seed=0, rank=0, world_size=1)
