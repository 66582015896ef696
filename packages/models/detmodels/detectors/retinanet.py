"""RetinaNet (Lin et al., Focal Loss for Dense Object Detection): a single-stage detector
with a RetinaHead trained by focal loss."""

from .single_stage import SingleStageDetector


class RetinaNet(SingleStageDetector):
    """SingleStageDetector under RetinaNet's name (configs say ``type='RetinaNet'``)."""
