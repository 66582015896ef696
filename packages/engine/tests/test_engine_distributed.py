"""Two processes with DDP over gloo on the CPU train exactly like one with the same total batch."""

import json
import socket
import subprocess
import sys
from pathlib import Path

import engine_toys
import pytest
import torch

from detengine.runner import Runner

WORKER = Path(__file__).resolve().parent / "engine_dist_worker.py"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_gloo_processes_match_one_process_with_the_same_total_batch(tmp_path):
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
               "--master-addr", "127.0.0.1", "--master-port", str(_free_port()),
               str(WORKER), str(tmp_path), "2"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    single = Runner.from_cfg(engine_toys.distributed_cfg(tmp_path / "single", per_rank_batch=4))
    single.train()
    single_metrics = single.test()

    distributed_weights = torch.load(tmp_path / "weights.pth", weights_only=True)
    for key, value in single.model.state_dict().items():
        torch.testing.assert_close(distributed_weights[key], value, rtol=1e-5, atol=1e-6)
    distributed_metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert distributed_metrics["world_size"] == 2
    assert distributed_metrics["toy/count"] == single_metrics["toy/count"] == 9
    assert distributed_metrics["toy/mse"] == pytest.approx(single_metrics["toy/mse"], rel=1e-5)
