"""detdatasets's plugin module: what it contributes to detcore.

Kept cheap to import; components are registered lazily by import path, and the
``data`` command imports its implementation only when it runs.
"""

from detcore import hookimpl

DATASETS = {
    "BaseDetDataset": "detdatasets.datasets.base_det_dataset",
    "CocoDataset": "detdatasets.datasets.coco",
    "XMLDataset": "detdatasets.datasets.voc",
    "VOCDataset": "detdatasets.datasets.voc",
    "YoloDataset": "detdatasets.datasets.yolo",
    "CrowdHumanDataset": "detdatasets.datasets.crowdhuman",
    "LabelmeDataset": "detdatasets.datasets.labelme",
    "ConcatDataset": "detdatasets.datasets.wrappers",
    "RepeatDataset": "detdatasets.datasets.wrappers",
    "ClassBalancedDataset": "detdatasets.datasets.wrappers",
    "MultiImageMixDataset": "detdatasets.datasets.multi_image_mix",
}

DATA_SAMPLERS = {
    "DefaultSampler": "detdatasets.samplers.default_sampler",
    "InfiniteSampler": "detdatasets.samplers.default_sampler",
    "AspectRatioBatchSampler": "detdatasets.samplers.batch_sampler",
    "ClassAwareSampler": "detdatasets.samplers.class_aware_sampler",
}

TRANSFORMS = {
    "Compose": "detdatasets.transforms.compose",
    "LoadImageFromFile": "detdatasets.transforms.loading",
    "LoadImageFromNDArray": "detdatasets.transforms.loading",
    "LoadAnnotations": "detdatasets.transforms.loading",
    "Resize": "detdatasets.transforms.resize",
    "FixShapeResize": "detdatasets.transforms.resize",
    "RandomResize": "detdatasets.transforms.resize",
    "RandomChoiceResize": "detdatasets.transforms.resize",
    "RandomFlip": "detdatasets.transforms.flip",
    "Pad": "detdatasets.transforms.pad",
    "RandomCrop": "detdatasets.transforms.crop",
    "MinIoURandomCrop": "detdatasets.transforms.crop",
    "Expand": "detdatasets.transforms.expand",
    "PhotoMetricDistortion": "detdatasets.transforms.photometric",
    "YOLOXHSVRandomAug": "detdatasets.transforms.photometric",
    "RandomAffine": "detdatasets.transforms.affine",
    "Mosaic": "detdatasets.transforms.mix",
    "MixUp": "detdatasets.transforms.mix",
    "CopyPaste": "detdatasets.transforms.copy_paste",
    "CutOut": "detdatasets.transforms.erase",
    "RandomErasing": "detdatasets.transforms.erase",
    "FilterAnnotations": "detdatasets.transforms.filter",
    "TestTimeAug": "detdatasets.transforms.test_time_aug",
    "PackDetInputs": "detdatasets.transforms.formatting",
}

METRICS = {
    "CocoMetric": "detdatasets.evaluation.coco_metric",
    "VOCMetric": "detdatasets.evaluation.voc_metric",
}


@hookimpl
def detcore_register_components(registries):
    registries.DATASETS.register_lazy(DATASETS)
    registries.DATA_SAMPLERS.register_lazy(DATA_SAMPLERS)
    registries.TRANSFORMS.register_lazy(TRANSFORMS)
    registries.METRICS.register_lazy(METRICS)


@hookimpl
def detcore_add_cli_commands(subparsers):
    from detdatasets.tools.cli import add_data_command

    add_data_command(subparsers)
