"""Rank, world size and a shared random seed, from torch.distributed when it is running."""

from __future__ import annotations

import numpy as np


def get_dist_info() -> tuple[int, int]:
    """(rank, world_size): (0, 1) unless torch.distributed is initialised."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def resolve_rank(rank: int | None, world_size: int | None) -> tuple[int, int]:
    """Explicit rank / world size where given, the process group's otherwise."""
    dist_rank, dist_world = get_dist_info()
    rank = dist_rank if rank is None else rank
    world_size = dist_world if world_size is None else world_size
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, world_size), got rank={rank}, "
                         f"world_size={world_size}")
    return rank, world_size


def sync_random_seed() -> int:
    """A random seed that every rank agrees on (rank 0 draws it and broadcasts it), so
    that unseeded shuffling still gives each rank a disjoint share of one permutation."""
    import torch
    import torch.distributed as dist

    seed = np.random.randint(2**31)
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return int(seed)
    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    tensor = torch.tensor(seed if dist.get_rank() == 0 else 0, dtype=torch.int32, device=device)
    dist.broadcast(tensor, src=0)
    return int(tensor.item())
