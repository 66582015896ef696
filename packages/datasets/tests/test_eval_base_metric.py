"""BaseMetric: MMEngine's interface (prefixing, clearing, gathering across processes)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from detdatasets.evaluation import BaseMetric
from detdatasets.evaluation.base_metric import collect_results, interleave


class CountMetric(BaseMetric):
    """Records sample ids; reports how many and which it saw."""

    default_prefix = "count"

    def process(self, data_batch, data_samples):
        self.results.extend(s["id"] for s in data_samples)

    def compute_metrics(self, results):
        return {"n": len(results), "ids": list(results)}


def test_evaluate_prefixes_keys_trims_padding_and_clears_results():
    metric = CountMetric()
    metric.process(None, [{"id": 0}, {"id": 1}])
    metric.process(None, [{"id": 2}, {"id": 0}])  # a padded sampler repeats sample 0
    assert metric.evaluate(size=3) == {"count/n": 3, "count/ids": [0, 1, 2]}
    assert metric.results == []


def test_prefix_argument_replaces_the_default():
    metric = CountMetric(prefix="val")
    metric.process(None, [{"id": 5}])
    assert metric.evaluate(1) == {"val/n": 1, "val/ids": [5]}


def test_empty_results_warn():
    with pytest.warns(UserWarning, match="CountMetric.results is empty: process\\(\\) was never called"):
        assert CountMetric().evaluate(0) == {"count/n": 0, "count/ids": []}


def test_bad_collect_device_is_refused():
    with pytest.raises(ValueError, match="collect_device must be 'cpu' or 'gpu', got 'tpu'"):
        CountMetric(collect_device="tpu")


def test_interleave_restores_round_robin_order():
    # a round-robin sampler gave rank 0 samples 0, 2, 4 and rank 1 samples 1, 3
    assert interleave([[0, 2, 4], [1, 3]]) == [0, 1, 2, 3, 4]
    assert collect_results([7, 8, 9], size=2) == [7, 8]  # not distributed: only the trim


@pytest.mark.slow
def test_evaluate_gathers_results_of_two_gloo_processes(tmp_path):
    """Two real torch.distributed (gloo) processes; each must get rank 0's metrics."""
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(f"""
        import sys, torch.distributed as dist
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_eval_base_metric import CountMetric
        dist.init_process_group("gloo")
        rank = dist.get_rank()
        metric = CountMetric()
        # 5 samples dealt round-robin to 2 ranks, rank 1 padded with sample 0
        metric.process(None, [{{"id": i}} for i in ([0, 2, 4] if rank == 0 else [1, 3, 0])])
        print(metric.evaluate(size=5), flush=True)
        dist.barrier()
        dist.destroy_process_group()
    """))
    env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(29500 + os.getpid() % 1000), WORLD_SIZE="2")
    procs = [
        subprocess.Popen([sys.executable, str(script)], env=dict(env, RANK=str(r)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for r in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for (out, err), p in zip(outputs, procs):
        assert p.returncode == 0, err
        assert out.strip().splitlines()[-1] == "{'count/n': 5, 'count/ids': [0, 1, 2, 3, 4]}"
