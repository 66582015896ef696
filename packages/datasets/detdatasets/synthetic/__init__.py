"""The synthetic shapes dataset: generated images with COCO / VOC / YOLO annotations."""

from detdatasets.synthetic.render import SHAPE_CLASSES, ShapesConfig, generate_image
from detdatasets.synthetic.shapes import (
    default_shapes_root,
    ensure_shapes_dataset,
    generate_shapes_dataset,
    shapes_metainfo,
)

__all__ = ["SHAPE_CLASSES", "ShapesConfig", "generate_image", "generate_shapes_dataset",
           "ensure_shapes_dataset", "default_shapes_root", "shapes_metainfo"]
