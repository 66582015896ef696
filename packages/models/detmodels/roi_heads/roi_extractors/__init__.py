"""RoI feature extractors: pool per-RoI features from the FPN levels."""

from .single_level_roi_extractor import SingleRoIExtractor, build_roi_layers

__all__ = ["SingleRoIExtractor", "build_roi_layers"]
