"""Data samplers (MMEngine/MMDetection's): per-rank index streams and batch grouping."""

from detdatasets.samplers.batch_sampler import AspectRatioBatchSampler
from detdatasets.samplers.class_aware_sampler import ClassAwareSampler
from detdatasets.samplers.default_sampler import DefaultSampler, InfiniteSampler
from detdatasets.samplers.distributed import get_dist_info, sync_random_seed

__all__ = ["DefaultSampler", "InfiniteSampler", "AspectRatioBatchSampler", "ClassAwareSampler",
           "get_dist_info", "sync_random_seed"]
