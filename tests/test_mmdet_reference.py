"""The MMDetection reference harness: mmcv's Python ops run on our stand-ins and agree with
torchvision and with MMDetection's own pure-PyTorch focal loss."""

import pytest
import torch
import torchvision

pytestmark = pytest.mark.peer


def test_mmcv_nms_and_roi_align_run_on_the_stand_ins(mmdet):
    from mmcv.ops import nms, roi_align

    g = torch.Generator().manual_seed(0)
    xy = torch.rand(200, 2, generator=g) * 100
    boxes = torch.cat([xy, xy + 5 + torch.rand(200, 2, generator=g) * 30], 1)
    scores = torch.rand(200, generator=g)
    dets, keep = nms(boxes, scores, 0.5)
    assert torch.equal(keep, torchvision.ops.nms(boxes, scores, 0.5))
    assert torch.allclose(dets[:, 4], scores[keep])

    feats = torch.randn(2, 4, 16, 16, generator=g, requires_grad=True)
    rois = torch.tensor([[0, 1.0, 1.0, 9.0, 12.0], [1, 3.5, 2.0, 15.0, 8.0]])
    ours = roi_align(feats, rois, (7, 7), 0.5, 2, "avg", True)
    ref = torchvision.ops.roi_align(feats, rois, (7, 7), 0.5, 2, True)
    assert torch.allclose(ours, ref)
    (g1,) = torch.autograd.grad(ours.sum(), feats)
    (g2,) = torch.autograd.grad(ref.sum(), feats)
    assert torch.allclose(g1, g2)


def test_mmcv_focal_loss_stand_in_matches_mmdet_python_focal_loss(mmdet):
    from mmdet.models.losses.focal_loss import py_sigmoid_focal_loss, sigmoid_focal_loss

    g = torch.Generator().manual_seed(1)
    logits = torch.randn(30, 5, generator=g, requires_grad=True)
    labels = torch.randint(0, 6, (30,), generator=g)  # 5 = background
    one_hot = torch.nn.functional.one_hot(labels, 6)[:, :5].float()
    ours = sigmoid_focal_loss(logits, labels, gamma=2.0, alpha=0.25, reduction="mean")
    ref = py_sigmoid_focal_loss(logits, one_hot, gamma=2.0, alpha=0.25, reduction="mean")
    assert torch.allclose(ours, ref, atol=1e-6)
    (g1,) = torch.autograd.grad(ours, logits)
    (g2,) = torch.autograd.grad(ref, logits)
    assert torch.allclose(g1, g2, atol=1e-6)
