"""FCOS: a single-stage, anchor-free detector with an FCOSHead."""

from .single_stage import SingleStageDetector


class FCOS(SingleStageDetector):
    """SingleStageDetector under FCOS's name (configs say ``type='FCOS'``)."""
