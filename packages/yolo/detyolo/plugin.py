"""detyolo's plugin module: what it contributes to detcore.

Kept cheap to import: every component is registered lazily by import path. Names follow
MMYOLO, except where MMYOLO reuses a name that detmodels or detdatasets already registers
(the same name from two distributions would make every plain lookup a clash):
'YOLOMosaic', 'YOLOLoadAnnotations' and 'YOLOIoULoss' stand for MMYOLO's 'Mosaic',
'LoadAnnotations' and 'IoULoss'.
"""

from pathlib import Path

from detcore import hookimpl

MODELS = {
    "YOLOv8CSPDarknet": "detyolo.backbones.yolov8_csp_darknet",
    "YOLOv5CSPDarknet": "detyolo.backbones.yolov5_csp_darknet",
    "YOLOv8PAFPN": "detyolo.necks.yolov8_pafpn",
    "YOLOv5PAFPN": "detyolo.necks.yolov5_pafpn",
    "YOLOv8HeadModule": "detyolo.dense_heads.yolov8_head",
    "YOLOv8Head": "detyolo.dense_heads.yolov8_head",
    "YOLOv5HeadModule": "detyolo.dense_heads.yolov5_head",
    "YOLOv5Head": "detyolo.dense_heads.yolov5_head",
    "YOLOIoULoss": "detyolo.losses.iou_loss:IoULoss",
    "YOLODetector": "detyolo.detectors.yolo_detector",
    "YOLOv5DetDataPreprocessor": "detyolo.detectors.data_preprocessor",
}

TASK_UTILS = {
    "BatchTaskAlignedAssigner": "detyolo.task_modules.batch_task_aligned_assigner",
    "BatchShapePolicy": "detyolo.datasets.batch_shapes",
}

TRANSFORMS = {
    "YOLOMosaic": "detyolo.transforms.mix_img_transforms",
    "Mosaic9": "detyolo.transforms.mix_img_transforms",
    "YOLOv5MixUp": "detyolo.transforms.mix_img_transforms",
    "YOLOXMixUp": "detyolo.transforms.mix_img_transforms",
    "YOLOv5RandomAffine": "detyolo.transforms.random_affine",
    "YOLOv5HSVRandomAug": "detyolo.transforms.hsv",
    "LetterResize": "detyolo.transforms.resize",
    "YOLOv5KeepRatioResize": "detyolo.transforms.resize",
    "YOLOLoadAnnotations": "detyolo.transforms.loading",
}

DATASETS = {
    "YOLOv5CocoDataset": "detyolo.datasets.yolov5_coco",
}

OPTIM_WRAPPERS = {
    "YOLOv5OptimizerConstructor": "detyolo.engine.optimizer_constructors",
    "YOLOv7OptimWrapperConstructor": "detyolo.engine.optimizer_constructors",
}

CONVERTERS = {
    "ultralytics": "detyolo.converters.ultralytics:convert",
}

HOOKS = {
    "YOLOv5ParamSchedulerHook": "detyolo.engine.param_scheduler_hooks",
    "YOLOXModeSwitchHook": "detyolo.engine.mode_switch_hooks",
}


@hookimpl
def detcore_register_components(registries):
    registries.MODELS.register_lazy(MODELS)
    registries.TASK_UTILS.register_lazy(TASK_UTILS)
    registries.TRANSFORMS.register_lazy(TRANSFORMS)
    registries.DATASETS.register_lazy(DATASETS)
    registries.OPTIM_WRAPPERS.register_lazy(OPTIM_WRAPPERS)
    registries.HOOKS.register_lazy(HOOKS)


@hookimpl
def detcore_register_converters(converters):
    converters.register_lazy(CONVERTERS)


@hookimpl
def detcore_config_roots():
    return {"detyolo": Path(__file__).parent / "configs"}
