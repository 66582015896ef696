"""DumpDetResults: a metric that writes every prediction to a file (`detcore test --out`).

``.pkl`` files hold a pickled list of dicts (MMDetection's format); any other suffix
gets JSON. Each entry: ``img_id``, ``img_path``, ``bboxes`` (N, 4) xyxy, ``scores``,
``labels`` (lists in JSON, arrays in pickles). It reports no metrics.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

from detengine import dist
from detengine.visualizer import instances_as_arrays


class DumpDetResults:
    def __init__(self, out_file_path: str, collect_device: str = "cpu"):
        self.out_file_path = Path(out_file_path)
        self.dataset_meta: dict | None = None
        self.results: list[dict] = []

    def process(self, data_batch: Any, data_samples: list) -> None:
        for sample in data_samples:  # dicts, metainfo keys at the top level
            arrays = instances_as_arrays(sample.get("pred_instances") or {})
            self.results.append({"img_id": sample.get("img_id"), "img_path": sample.get("img_path"),
                                 **arrays})

    def evaluate(self, size: int) -> dict:
        results = dist.collect_results(self.results, size)
        self.results = []
        if results is not None:
            self.out_file_path.parent.mkdir(parents=True, exist_ok=True)
            if self.out_file_path.suffix == ".pkl":
                with open(self.out_file_path, "wb") as f:
                    pickle.dump(results, f)
            else:
                plain = [{k: v.tolist() if hasattr(v, "tolist") else v for k, v in r.items()}
                         for r in results]
                self.out_file_path.write_text(json.dumps(plain))
        dist.barrier()
        return {}
