"""DetInferencer: predictions (and drawings) for images from a config and a checkpoint.

    inferencer = DetInferencer('retinanet_r50_fpn_1x_coco.py', 'epoch_12.pth')
    result = inferencer('demo.jpg', out_dir='outputs')   # or a folder, a list, an array
    result['predictions'][0]   # {'labels': [...], 'scores': [...], 'bboxes': [[x1, y1, x2, y2], ...]}

Images go through the config's test pipeline (``test_dataloader.dataset.pipeline``; an
array input gets ``LoadImageFromNDArray`` instead of ``LoadImageFromFile``), then the
model's data preprocessor and ``model(..., mode='predict')``. NumPy inputs are BGR, as
``cv2.imread`` returns them (MMDetection's convention). With ``out_dir`` it writes
``preds/<name>.json`` and ``vis/<name>.jpg`` for each image. Without a config, the one
stored in the checkpoint is used.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from detcore.registry import MODELS
from detengine.checkpoint import load_checkpoint, load_weights, weights_of
from detengine.collate import pseudo_collate
from detengine.config_errors import ConfigKeyError, building
from detengine.hooks.pipeline_switch_hook import build_pipeline
from detengine.model_steps import test_step
from detengine.visualizer import DetLocalVisualizer, instances_as_arrays, read_image, save_image

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def _load_config(model: Any, checkpoint: Mapping | None):
    from detcore.config import Config

    if model is None:
        text = (checkpoint or {}).get("meta", {}).get("cfg")
        if not text:
            raise ValueError("DetInferencer: give a config (model=...); the checkpoint has none stored")
        return Config.fromstring(text, "py")
    if isinstance(model, (str, os.PathLike)):
        return Config.fromfile(model)
    return model if hasattr(model, "to_dict") else Config(dict(model))


def list_images(inputs: Any) -> list:
    """Image paths (folders expanded, sorted) and arrays, in the order given."""
    items = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    found: list = []
    for item in items:
        if isinstance(item, np.ndarray):
            found.append(item)
            continue
        path = Path(item)
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"input '{path}' is neither an image file nor a folder")
    return found


class DetInferencer:
    def __init__(self, model: Any = None, weights: str | os.PathLike | None = None,
                 device: str | None = None, trust_checkpoint: bool = False,
                 show_progress: bool = True):
        checkpoint = load_checkpoint(weights, trust_checkpoint=trust_checkpoint) if weights else None
        self.cfg = _load_config(model, checkpoint)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        model_cfg = dict(self.cfg["model"])
        if self.cfg.get("data_preprocessor") is not None:
            model_cfg.setdefault("data_preprocessor", self.cfg["data_preprocessor"])
        with building("model"):
            self.model = MODELS.build(model_cfg)
        if checkpoint is not None:
            self.load_report = load_weights(self.model, weights_of(checkpoint), source=str(weights))
        self.model.to(self.device).eval()
        self.dataset_meta = self._dataset_meta(checkpoint)
        self.visualizer = DetLocalVisualizer()
        self.visualizer.dataset_meta = self.dataset_meta
        self.show_progress = show_progress
        pipeline = self.cfg.get("test_dataloader", {}).get("dataset", {}).get("pipeline")
        if not pipeline:
            raise ConfigKeyError("test_dataloader.dataset.pipeline", "missing; inference runs images "
                                 "through the test pipeline")
        self._pipeline_cfg = list(pipeline)
        self._pipelines: dict[bool, Any] = {}

    def _dataset_meta(self, checkpoint: Mapping | None) -> dict:
        meta = (checkpoint or {}).get("meta", {}).get("dataset_meta")
        if meta:
            return dict(meta)
        dataset = self.cfg.get("test_dataloader", {}).get("dataset", {})
        return dict(dataset.get("metainfo") or {})

    def _pipeline(self, from_array: bool):
        if from_array not in self._pipelines:
            cfgs = [dict(c) for c in self._pipeline_cfg]
            if from_array and cfgs and cfgs[0].get("type") == "LoadImageFromFile":
                cfgs[0]["type"] = "LoadImageFromNDArray"
            with building("test_dataloader.dataset.pipeline"):
                self._pipelines[from_array] = build_pipeline(cfgs)
        return self._pipelines[from_array]

    def _prepare(self, index: int, item) -> dict:
        if isinstance(item, np.ndarray):
            return self._pipeline(True)({"img": item, "img_id": index, "img_path": None})
        return self._pipeline(False)({"img_path": str(item), "img_id": index})

    @torch.no_grad()
    def __call__(self, inputs: Any, out_dir: str | os.PathLike | None = None, batch_size: int = 1,
                 pred_score_thr: float = 0.3, draw: bool = True) -> dict[str, list]:
        """Predict every image; return ``{'predictions': [...], 'visualization': [...]}``.

        Predictions are dicts of lists (``labels``, ``scores``, ``bboxes`` xyxy in pixels of
        the original image); visualizations are RGB arrays (empty when ``draw=False``).
        """
        items = list_images(inputs)
        predictions, drawings = [], []
        batches = range(0, len(items), batch_size)
        if self.show_progress:
            batches = tqdm(batches, desc="infer", total=len(batches), leave=False)
        for start in batches:
            chunk = items[start:start + batch_size]
            data = pseudo_collate([self._prepare(start + i, item) for i, item in enumerate(chunk)])
            for item, sample in zip(chunk, test_step(self.model, data)):
                arrays = instances_as_arrays(sample.pred_instances if hasattr(sample, "pred_instances")
                                             else sample["pred_instances"])
                predictions.append({k: v.tolist() for k, v in arrays.items() if k != "masks"})
                if draw:
                    image = (np.ascontiguousarray(item[..., ::-1]) if isinstance(item, np.ndarray)
                             else read_image(item))
                    drawings.append(self.visualizer.draw_instances(image, arrays, pred_score_thr))
        if out_dir is not None:
            self._write(items, predictions, drawings, Path(out_dir))
        return {"predictions": predictions, "visualization": drawings}

    @staticmethod
    def _write(items: Sequence, predictions: list, drawings: list, out_dir: Path) -> None:
        (out_dir / "preds").mkdir(parents=True, exist_ok=True)
        for index, item in enumerate(items):
            name = f"{index:08d}" if isinstance(item, np.ndarray) else Path(item).stem
            (out_dir / "preds" / f"{name}.json").write_text(json.dumps(predictions[index]))
            if drawings:
                save_image(drawings[index], out_dir / "vis" / f"{name}.jpg")
