"""Mask R-CNN: Faster R-CNN with an FCN mask head on the RoIs."""

from __future__ import annotations

from .two_stage import TwoStageDetector


class MaskRCNN(TwoStageDetector):
    """A TwoStageDetector; the config's roi_head says which heads it has."""
