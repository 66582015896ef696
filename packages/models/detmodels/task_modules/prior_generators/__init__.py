"""Prior generators: anchors and points on multi-level feature grids."""

from .anchor_generator import AnchorGenerator, SSDAnchorGenerator, YOLOAnchorGenerator
from .point_generator import MlvlPointGenerator
from .utils import anchor_inside_flags

__all__ = ["AnchorGenerator", "MlvlPointGenerator", "SSDAnchorGenerator", "YOLOAnchorGenerator",
           "anchor_inside_flags"]
