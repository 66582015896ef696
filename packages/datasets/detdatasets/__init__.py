"""detdatasets: detection data for detcore.

- ``detdatasets.io``: image io and image operations on OpenCV (mmcv's names).
- ``detdatasets.datasets``: COCO, middle format, VOC XML, YOLO txt, CrowdHuman, labelme
  datasets (MMEngine/MMDetection 3.x semantics) and the dataset wrappers.
- ``detdatasets.samplers``: DefaultSampler, InfiniteSampler, AspectRatioBatchSampler,
  ClassAwareSampler.
- ``detdatasets.synthetic``: the synthetic shapes dataset (``ensure_shapes_dataset``).
- ``detdatasets.transforms``, ``detdatasets.evaluation``: data pipelines and metrics.

Importing this package is cheap (no torch, no OpenCV): the plugin module is imported
when the ``detcore`` command starts; components load on first use.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("detdatasets")
except PackageNotFoundError:  # a source tree that is not installed
    __version__ = "0.0.0+unknown"
