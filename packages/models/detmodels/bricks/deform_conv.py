"""The deformable convolutions that configs name as conv layers: 'DCN' (DCNv1) and 'DCNv2'
(modulated), e.g. ``dcn=dict(type='DCNv2', deform_groups=1)`` in ResNet.

They are detops' layers (compiled kernels, with a PyTorch fallback), which keep MMCV's
arguments and parameter names (``weight``, ``bias``, ``conv_offset``) so MMDetection DCN
checkpoints load as they are; this module is where detmodels' registry names point.
"""

from detops.deform_conv import DeformConv2dPack, ModulatedDeformConv2dPack

__all__ = ["DeformConv2dPack", "ModulatedDeformConv2dPack"]
