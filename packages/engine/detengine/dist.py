"""torch.distributed helpers: who am I, wait for the others, gather results.

Everything works in a single process too (rank 0 of 1), so callers never branch on
whether a process group exists. Processes are started by torchrun
(``torchrun --nproc-per-node N -m detcore run CFG --launcher pytorch``), never by us.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as torch_dist


def is_distributed() -> bool:
    return torch_dist.is_available() and torch_dist.is_initialized()


def get_rank() -> int:
    return torch_dist.get_rank() if is_distributed() else 0


def get_world_size() -> int:
    return torch_dist.get_world_size() if is_distributed() else 1


def is_main_process() -> bool:
    return get_rank() == 0


def master_only(func: Callable) -> Callable:
    """Run ``func`` on rank 0 only (returns None elsewhere)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs) if is_main_process() else None

    return wrapper


def barrier() -> None:
    if is_distributed():
        torch_dist.barrier()


def init_dist(launcher: str, backend: str | None = None, timeout_s: int | None = None) -> None:
    """Join the process group that ``launcher`` set up.

    ``launcher='pytorch'`` reads RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and
    MASTER_PORT from the environment (torchrun sets them). ``backend`` defaults to nccl
    on CUDA and gloo on the CPU; nccl asked for on a machine without CUDA falls back to
    gloo, so a GPU config also runs on CPU workers.
    """
    if launcher != "pytorch":
        raise ValueError(f"launcher must be 'none' or 'pytorch' (torchrun), got '{launcher}'")
    missing = [k for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
               if k not in os.environ]
    if missing:
        raise RuntimeError(f"--launcher pytorch needs the environment variables that torchrun sets; "
                           f"missing {', '.join(missing)}. Start the command with "
                           f"`torchrun --nproc-per-node N -m detcore ...`")
    if is_distributed():
        return
    if backend is None or (backend == "nccl" and not torch.cuda.is_available()):
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]) % torch.cuda.device_count())
    kwargs = {}
    if timeout_s is not None:
        import datetime

        kwargs["timeout"] = datetime.timedelta(seconds=timeout_s)
    torch_dist.init_process_group(backend=backend, **kwargs)


def _object_device() -> torch.device:
    """Device for collective object transfers: nccl needs CUDA tensors, gloo CPU ones."""
    if is_distributed() and torch_dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """``obj`` from rank ``src`` on every rank."""
    if not is_distributed():
        return obj
    box = [obj]
    torch_dist.broadcast_object_list(box, src=src, device=_object_device())
    return box[0]


def all_gather_object(obj: Any) -> list[Any]:
    """One ``obj`` per rank, in rank order."""
    if not is_distributed():
        return [obj]
    gathered: list[Any] = [None] * get_world_size()
    torch_dist.all_gather_object(gathered, obj)
    return gathered


def collect_results(part: list, size: int) -> list | None:
    """Join the per-rank result lists of an evaluation, in dataset order, on rank 0.

    Assumes the sampler hands rank r the samples r, r + W, r + 2W, ... (W ranks, padded
    to equal length), as DefaultSampler does; the padding is cut off at ``size``.
    Other ranks get None.
    """
    parts = all_gather_object(part)
    if not is_main_process():
        return None
    ordered = [item for group in _interleave(parts) for item in group]
    return ordered[:size]


def _interleave(parts: list[list]) -> list[list]:
    longest = max((len(p) for p in parts), default=0)
    return [[p[i] for p in parts if i < len(p)] for i in range(longest)]


def all_reduce_mean(tensor: torch.Tensor) -> torch.Tensor:
    """Mean of ``tensor`` over ranks (a new tensor; the input is unchanged)."""
    if not is_distributed():
        return tensor
    out = tensor.detach().clone()
    torch_dist.all_reduce(out)
    return out / get_world_size()

