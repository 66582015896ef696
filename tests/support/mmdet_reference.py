"""Run MMDetection 3.3.0 on the CPU as a reference implementation, without compiling mmcv.

mmcv-lite ships mmcv's Python code but not its compiled ``mmcv._ext``; mmdet 3.3.0 also
refuses mmcv 2.2.0 at import. ``import_mmdet()`` works around both (see
shared/reference/mmdet-as-reference.md): it registers this module's pure-PyTorch
stand-ins as ``mmcv._ext`` (mmcv's own Python wrappers then run unchanged) and lets mmdet
see an mmcv version it accepts while it imports. Stand-ins delegate to torchvision's ops
where they exist; any other ``_ext`` function raises NotImplementedError when called.

Only tests use this: it is the reference side of parity checks, never part of our code.
"""

from __future__ import annotations

import sys
import types

import torch
import torchvision


def _nms(bboxes, scores, iou_threshold, offset=0):
    if offset != 0:
        raise NotImplementedError("mmcv nms stand-in: only offset=0 (MMDetection 3.x's default)")
    return torchvision.ops.nms(bboxes, scores, float(iou_threshold))


def _roi_align_forward(input, rois, output, argmax_y, argmax_x, aligned_height, aligned_width,
                       spatial_scale, sampling_ratio, pool_mode, aligned):
    if pool_mode != 1:  # mmcv: {'max': 0, 'avg': 1}
        raise NotImplementedError("mmcv roi_align stand-in: only pool_mode='avg'")
    output.copy_(torchvision.ops.roi_align(input, rois, (aligned_height, aligned_width),
                                           spatial_scale, sampling_ratio, aligned))


def _roi_align_backward(grad_output, rois, argmax_y, argmax_x, grad_input, aligned_height,
                        aligned_width, spatial_scale, sampling_ratio, pool_mode, aligned):
    b, c, h, w = grad_input.shape
    grad_input.copy_(torch.ops.torchvision._roi_align_backward(
        grad_output, rois, spatial_scale, aligned_height, aligned_width, b, c, h, w,
        sampling_ratio, aligned))


def _roi_pool_forward(input, rois, output, argmax, pooled_height, pooled_width, spatial_scale):
    out, arg = torch.ops.torchvision.roi_pool(input, rois, spatial_scale, pooled_height, pooled_width)
    output.copy_(out)
    argmax.copy_(arg)


def _roi_pool_backward(grad_output, rois, argmax, grad_input, pooled_height, pooled_width,
                       spatial_scale):
    b, c, h, w = grad_input.shape
    grad_input.copy_(torch.ops.torchvision._roi_pool_backward(
        grad_output, rois, argmax, spatial_scale, pooled_height, pooled_width, b, c, h, w))


def _sigmoid_focal_elementwise(input, target, weight, gamma, alpha):
    """mmcv's per-element sigmoid focal loss: (N, C) logits, (N,) labels (C = background)."""
    one_hot = torch.zeros_like(input)
    valid = target < input.shape[1]
    one_hot[valid.nonzero()[:, 0], target[valid]] = 1
    p = input.sigmoid()
    pos = -alpha * (1 - p).pow(gamma) * torch.nn.functional.logsigmoid(input)
    neg = -(1 - alpha) * p.pow(gamma) * torch.nn.functional.logsigmoid(-input)
    loss = one_hot * pos + (1 - one_hot) * neg
    if weight.numel() > 0:
        loss = loss * weight[target.clamp(max=input.shape[1] - 1)].unsqueeze(1) * valid.unsqueeze(1) \
            + loss * (~valid).unsqueeze(1)
    return loss


def _sigmoid_focal_loss_forward(input, target, weight, output, gamma, alpha):
    output.copy_(_sigmoid_focal_elementwise(input, target, weight, gamma, alpha))


def _sigmoid_focal_loss_backward(input, target, weight, grad_input, gamma, alpha):
    with torch.enable_grad():
        x = input.detach().requires_grad_(True)
        _sigmoid_focal_elementwise(x, target, weight, gamma, alpha).sum().backward()
    grad_input.copy_(x.grad)


class _ExtStandIn(types.ModuleType):
    """``mmcv._ext``: the functions above; any other name exists but raises when called."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)

        def missing(*args, **kwargs):
            raise NotImplementedError(f"mmcv._ext.{name} has no stand-in (tests/support/mmdet_reference.py)")
        return missing


def import_mmdet():
    """Import mmdet with the stand-ins in place, register its modules, and return it."""
    import mmcv

    if "mmcv._ext" not in sys.modules:
        ext = _ExtStandIn("mmcv._ext")
        ext.nms = _nms
        ext.roi_align_forward = _roi_align_forward
        ext.roi_align_backward = _roi_align_backward
        ext.roi_pool_forward = _roi_pool_forward
        ext.roi_pool_backward = _roi_pool_backward
        ext.sigmoid_focal_loss_forward = _sigmoid_focal_loss_forward
        ext.sigmoid_focal_loss_backward = _sigmoid_focal_loss_backward
        sys.modules["mmcv._ext"] = ext
        mmcv._ext = ext
    real_version = mmcv.__version__
    mmcv.__version__ = "2.1.0"  # inside mmdet's accepted range; only while mmdet imports
    try:
        import mmdet
        from mmdet.utils import register_all_modules
    finally:
        mmcv.__version__ = real_version
    register_all_modules()
    return mmdet
