"""Faster R-CNN: RPN proposals, RoIAlign, a two-fc box head."""

from __future__ import annotations

from .two_stage import TwoStageDetector


class FasterRCNN(TwoStageDetector):
    """A TwoStageDetector; the config's roi_head says which heads it has."""
