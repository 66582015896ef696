"""GFL: a single-stage detector with a GFLHead."""

from .single_stage import SingleStageDetector


class GFL(SingleStageDetector):
    """SingleStageDetector under GFL's name (configs say ``type='GFL'``)."""
