"""DetVisualizationHook: draws predictions for some validation images and, on request,
every test image.

    default_hooks = dict(visualization=dict(type='DetVisualizationHook', draw=True, interval=50))

With ``draw=True`` the first image of every ``interval``-th validation batch is drawn into
the visualizer's folder (WORK_DIR/<timestamp>/vis_data/vis_image); in testing every
image is drawn into ``test_out_dir`` (`detcore test --show-dir DIR`). Images are read from
their ``img_path``; without one, the model input itself is drawn (boxes scaled by the
sample's ``scale_factor``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from detengine.hooks.hook import Hook
from detengine.priority import Priority
from detengine.visualizer import read_image


def _meta(sample: Any) -> dict:
    """Metainfo of a data sample (a dict sample holds it at its top level)."""
    return dict(sample) if isinstance(sample, dict) else dict(getattr(sample, "metainfo", None) or {})


def _image_of(sample: Any, data_batch: Any, index: int) -> tuple[np.ndarray, float, float]:
    """The image to draw on (RGB) and the (x, y) factors mapping prediction boxes onto it."""
    meta = _meta(sample)
    if meta.get("img_path"):
        return read_image(meta["img_path"]), 1.0, 1.0
    inputs = data_batch["inputs"][index]
    image = inputs.permute(1, 2, 0).cpu().numpy().astype(np.uint8)[..., ::-1]  # CHW BGR -> HWC RGB
    sx, sy = (meta.get("scale_factor") or (1.0, 1.0))[:2]
    return np.ascontiguousarray(image), float(sx), float(sy)


def _scaled(sample: Any, sx: float, sy: float):
    if sx == sy == 1.0:
        return sample
    from detengine.visualizer import instances_as_arrays

    preds = instances_as_arrays(sample.pred_instances if hasattr(sample, "pred_instances")
                                else sample["pred_instances"])
    if "bboxes" in preds:
        preds["bboxes"] = preds["bboxes"] * np.array([sx, sy, sx, sy])
    preds.pop("masks", None)
    return {"pred_instances": preds}


class DetVisualizationHook(Hook):
    priority = Priority.NORMAL

    def __init__(self, draw: bool = False, interval: int = 50, score_thr: float = 0.3,
                 show: bool = False, wait_time: float = 0.0, test_out_dir: str | None = None,
                 backend_args: dict | None = None):
        self.draw = draw
        self.interval = interval
        self.score_thr = score_thr
        self.show = show
        self.wait_time = wait_time
        self.test_out_dir = test_out_dir
        self._test_index = 0

    def _dataset_meta(self, runner, stage: str) -> None:
        loop = runner.built_loop(stage)
        meta = getattr(getattr(loop, "dataloader", None), "dataset", None)
        runner.visualizer.dataset_meta = dict(getattr(meta, "metainfo", None) or {})

    def before_val(self, runner) -> None:
        if self.draw:
            self._dataset_meta(runner, "val")

    def before_test(self, runner) -> None:
        if self.draw:
            self._dataset_meta(runner, "test")

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if not self.draw or not outputs or batch_idx % self.interval:
            return
        image, sx, sy = _image_of(outputs[0], data_batch, 0)
        name = Path(_meta(outputs[0]).get("img_path") or f"val_{batch_idx}").stem
        runner.visualizer.add_datasample(name, image, _scaled(outputs[0], sx, sy), draw_gt=False,
                                         show=self.show, wait_time=self.wait_time,
                                         pred_score_thr=self.score_thr, step=runner.iter)

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if not self.draw:
            return
        for index, sample in enumerate(outputs or []):
            self._test_index += 1
            image, sx, sy = _image_of(sample, data_batch, index)
            name = Path(_meta(sample).get("img_path") or f"test_{self._test_index}.png").name
            out_file = str(Path(self.test_out_dir) / name) if self.test_out_dir else None
            runner.visualizer.add_datasample(name, image, _scaled(sample, sx, sy), draw_gt=False,
                                             show=self.show, wait_time=self.wait_time,
                                             pred_score_thr=self.score_thr, out_file=out_file,
                                             step=self._test_index)
