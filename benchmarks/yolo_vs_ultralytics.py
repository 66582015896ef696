"""YOLOv8n against Ultralytics in one process: CPU inference latency and training throughput.

Latency: batch 1, 640 x 640, from the image tensor to decoded boxes and class scores (NMS
excluded on both sides). Ultralytics runs its fused model (conv-BN folded, what predict()
uses); ours runs with `fuse_conv_bn` and the channels_last memory format, and also without
channels_last. Both have the same weights. Timed in CPU time of the calling thread with one
torch thread (so that other processes on a shared machine do not count; the minimum over
alternating repeats, as timeit does), and in wall time with two threads.

Training throughput: images per CPU second, YOLOv8n from scratch on the synthetic shapes
dataset at 256 x 256, batch 16, the same augmentations (Mosaic, random affine with scale
0.5-1.5 and translation 0.1, HSV, horizontal flip), one torch thread and data loading in the
main process, so that the count covers everything the training does; measured over the
iterations after a warm-up, the better of two alternating runs of each. Ultralytics trains through its own trainer (`YOLO.train`,
pretrained=False, amp=False, plots=False, val=False), ours through `detcore`'s Runner with
`detyolo::yolov8/yolov8_n_shapes.py`.

    python benchmarks/yolo_vs_ultralytics.py
"""

from __future__ import annotations

import copy
import resource
import tempfile
import time
from pathlib import Path

import torch
from torchvision.ops import box_convert

NUM_TRAIN_IMAGES = 192
BATCH = 16
IMG_SIZE = 256
WARMUP_ITERS = 3
LATENCY_REPEATS = 7
TRAINING_ROUNDS = 2


def _process_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------------------- latency
def _models():
    from ultralytics.nn.tasks import DetectionModel

    from detcore.config import Config
    from detcore.registry import MODELS
    from detyolo.converters.ultralytics import convert
    from detyolo.detectors.fuse import fuse_conv_bn

    torch.manual_seed(0)
    theirs = DetectionModel("yolov8n.yaml", nc=80, verbose=False).eval()
    ours = MODELS.build(Config.fromfile("detyolo::yolov8/yolov8_n_coco.py").model.to_dict())
    ours.load_state_dict(convert(theirs.state_dict()), strict=True)
    return theirs.fuse(verbose=False), fuse_conv_bn(ours.eval())


def _ours_inference(model):
    def infer(x):
        cls_logits, _, bboxes = model.bbox_head.decode(*model(x, mode="tensor"))
        return bboxes, cls_logits.sigmoid()
    return infer


def _time(fn, x, clock, repeats=2) -> float:
    start = clock()
    for _ in range(repeats):
        fn(x)
    return (clock() - start) / repeats


def latency_rows() -> list[dict]:
    theirs, ours = _models()
    x = torch.rand(1, 3, 640, 640)
    ours_cl = copy.deepcopy(ours).to(memory_format=torch.channels_last)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    variants = {
        "Ultralytics fused": (lambda t: theirs(t)[0], x),
        "ours fused": (_ours_inference(ours), x),
        "ours fused + channels_last": (_ours_inference(ours_cl), x_cl),
    }
    rows = []
    with torch.inference_mode():
        their_boxes = box_convert(theirs(x)[0][0, :4].T, "cxcywh", "xyxy")
        torch.testing.assert_close(variants["ours fused + channels_last"][0](x_cl)[0][0],
                                   their_boxes, atol=0.05, rtol=1e-3)
        for threads, clock, unit in ((1, time.thread_time, "thread CPU ms, 1 thread"),
                                     (2, time.perf_counter, "wall ms, 2 threads")):
            torch.set_num_threads(threads)
            best = {name: float("inf") for name in variants}
            for _ in range(LATENCY_REPEATS):
                for name, (fn, inp) in variants.items():
                    fn(inp)  # warm-up of this variant's caches
                    best[name] = min(best[name], _time(fn, inp, clock))
            reference = best["Ultralytics fused"]
            for name, seconds in best.items():
                rows.append(dict(task="YOLOv8n inference, batch 1, 640", measure=unit,
                                 model=name, ms=seconds * 1e3, ratio=seconds / reference,
                                 goal="<= 0.9" if name.startswith("ours fused +") else ""))
    torch.set_num_threads(1)
    return rows


# ---------------------------------------------------------------------------- training
def _shapes_root(tmp: Path) -> Path:
    from detdatasets.synthetic import ensure_shapes_dataset

    return ensure_shapes_dataset(tmp / "shapes", num_train=NUM_TRAIN_IMAGES, num_val=2,
                                 formats=("coco", "yolo"), progress=False)


def _images_per_cpu_second(iteration_ends: list[float]) -> float:
    steady = iteration_ends[WARMUP_ITERS:]
    return BATCH * (len(steady) - 1) / (steady[-1] - steady[0])


def _ultralytics_training(root: Path, tmp: Path) -> float:
    from ultralytics import YOLO

    ends: list[float] = []
    yolo = YOLO("yolov8n.yaml")
    yolo.add_callback("on_train_batch_end", lambda trainer: ends.append(_process_cpu_seconds()))
    yolo.train(data=str(root / "data.yaml"), epochs=1, imgsz=IMG_SIZE, batch=BATCH, workers=0,
               device="cpu", pretrained=False, amp=False, plots=False, val=False, save=False,
               close_mosaic=0, mixup=0.0, project=str(tmp / "ultralytics"), name="run",
               exist_ok=True, verbose=False, seed=0, deterministic=False)
    return _images_per_cpu_second(ends)


def _our_training(root: Path, tmp: Path) -> float:
    from detcore.config import Config
    from detengine import Runner
    from detengine.hooks.hook import Hook

    class IterationClock(Hook):
        def __init__(self):
            self.ends: list[float] = []

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            self.ends.append(_process_cpu_seconds())

    cfg = Config.fromfile("detyolo::yolov8/yolov8_n_shapes.py")
    data_root = str(root) + "/"
    cfg.merge_from_dict({
        "work_dir": str(tmp / "ours"),
        "train_dataloader.num_workers": 0,
        "train_dataloader.persistent_workers": False,
        "train_dataloader.batch_size": BATCH,
        "train_dataloader.dataset.data_root": data_root,
        "train_cfg.max_epochs": 1,
        "train_cfg.val_interval": 10,
        "default_hooks.checkpoint.interval": 10,
        "progress": False,
    })
    runner = Runner.from_cfg(cfg)
    clock = runner.register_hook(IterationClock())
    runner.train()
    return _images_per_cpu_second(clock.ends)


def training_rows() -> list[dict]:
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        root = _shapes_root(tmp)
        theirs = ours = 0.0
        for _ in range(TRAINING_ROUNDS):
            theirs = max(theirs, _ultralytics_training(root, tmp))
            torch.set_num_threads(1)  # Ultralytics' trainer sets its own count
            ours = max(ours, _our_training(root, tmp))
    task = f"YOLOv8n training, batch {BATCH}, {IMG_SIZE}px, Mosaic+affine+HSV+flip"
    return [dict(task=task, measure="images per CPU second, 1 thread", model="Ultralytics",
                 images_per_s=theirs, ratio=1.0, goal=""),
            dict(task=task, measure="images per CPU second, 1 thread", model="ours",
                 images_per_s=ours, ratio=ours / theirs, goal=">= 1.0")]


def run() -> list[dict]:
    return latency_rows() + training_rows()


if __name__ == "__main__":
    from run_all import markdown_table

    print(markdown_table(run()))
