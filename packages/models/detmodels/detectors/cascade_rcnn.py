"""Cascade R-CNN (and Cascade Mask R-CNN): an RPN and a CascadeRoIHead."""

from __future__ import annotations

from .two_stage import TwoStageDetector


class CascadeRCNN(TwoStageDetector):
    """A TwoStageDetector; the config's roi_head says which heads it has."""
