"""One rank of the 2-process test (started by torchrun): train the toy regression with
``launcher='pytorch'`` and, on rank 0, save the final weights and metrics."""

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import engine_toys  # noqa: E402

from detengine import dist  # noqa: E402
from detengine.runner import Runner  # noqa: E402


def main(out_dir: str, per_rank_batch: int) -> None:
    torch.set_num_threads(1)
    engine_toys.register()
    cfg = engine_toys.distributed_cfg(Path(out_dir) / "work", per_rank_batch, launcher="pytorch")
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.test()
    if dist.is_main_process():
        torch.save(runner.model.module.state_dict(), Path(out_dir) / "weights.pth")
        (Path(out_dir) / "metrics.json").write_text(json.dumps(
            {**metrics, "world_size": dist.get_world_size()}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
