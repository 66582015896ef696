"""ATSS: a single-stage detector with an ATSSHead."""

from .single_stage import SingleStageDetector


class ATSS(SingleStageDetector):
    """SingleStageDetector under ATSS's name (configs say ``type='ATSS'``)."""
