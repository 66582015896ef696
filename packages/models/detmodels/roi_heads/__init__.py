"""Second stages of two-stage detectors: RoI feature extraction, box and mask heads, and
the heads that tie them together (StandardRoIHead for Faster/Mask R-CNN, CascadeRoIHead)."""

from .base_roi_head import BaseRoIHead
from .bbox_heads import BBoxHead, ConvFCBBoxHead, Shared2FCBBoxHead, Shared4Conv1FCBBoxHead
from .cascade_roi_head import CascadeRoIHead
from .mask_heads import FCNMaskHead
from .roi_extractors import SingleRoIExtractor
from .standard_roi_head import StandardRoIHead

__all__ = ["BBoxHead", "BaseRoIHead", "CascadeRoIHead", "ConvFCBBoxHead", "FCNMaskHead",
           "Shared2FCBBoxHead", "Shared4Conv1FCBBoxHead", "SingleRoIExtractor",
           "StandardRoIHead"]
