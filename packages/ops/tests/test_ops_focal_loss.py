"""sigmoid_focal_loss against MMDetection's py_sigmoid_focal_loss (written out below) and
torchvision.ops.sigmoid_focal_loss with one-hot targets; gradcheck in double precision."""

import pytest
import torch
import torch.nn.functional as F
import torchvision

import detops
from detops import _backend


@pytest.fixture(params=["compiled", "torch"])
def backend(request, monkeypatch):
    """Run a test once on the compiled kernels and once on the pure-PyTorch fallbacks."""
    if request.param == "compiled" and not _backend.COMPILED:
        pytest.skip(f"kernels not compiled: {_backend.LOAD_ERROR}")
    if request.param == "torch":
        monkeypatch.setattr(_backend, "use_kernel", lambda *args: False)
    return request.param


def py_sigmoid_focal_loss(pred, target, class_weight=None, gamma=2.0, alpha=0.25):
    """MMDetection's py_sigmoid_focal_loss (reduction 'none') with MMCV's target encoding:
    class indices, num_classes = background; class_weight (C,) scales a sample's row."""
    num_classes = pred.size(1)
    one_hot = F.one_hot(target, num_classes=num_classes + 1)[:, :num_classes].type_as(pred)
    pred_sigmoid = pred.sigmoid()
    pt = (1 - pred_sigmoid) * one_hot + pred_sigmoid * (1 - one_hot)
    focal_weight = (alpha * one_hot + (1 - alpha) * (1 - one_hot)) * pt.pow(gamma)
    loss = F.binary_cross_entropy_with_logits(pred, one_hot, reduction="none") * focal_weight
    if class_weight is not None:
        row = torch.cat([class_weight, class_weight.new_ones(1)])[target]
        loss = loss * row[:, None]
    return loss


def logits_and_targets(n=64, num_classes=7, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    logits = (torch.randn(n, num_classes, generator=g, dtype=torch.float64) * 3).to(dtype)
    target = torch.randint(0, num_classes + 1, (n,), generator=g)  # includes background
    return logits, target


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize(("gamma", "alpha"), [(2.0, 0.25), (0.0, 0.5), (1.5, 0.75)])
def test_focal_loss_matches_mmdetection_reference(backend, reduction, gamma, alpha):
    logits, target = logits_and_targets(seed=1, dtype=torch.float64)
    got = detops.sigmoid_focal_loss(logits, target, gamma, alpha, reduction=reduction)
    loss = py_sigmoid_focal_loss(logits, target, gamma=gamma, alpha=alpha)
    expected = {"none": loss, "sum": loss.sum(), "mean": loss.sum() / len(logits)}[reduction]
    torch.testing.assert_close(got, expected)


def test_focal_loss_matches_torchvision_with_one_hot_targets(backend):
    logits, target = logits_and_targets(seed=2)
    one_hot = F.one_hot(target, 8)[:, :7].float()
    got = detops.sigmoid_focal_loss(logits, target, 2.0, 0.25, reduction="none")
    expected = torchvision.ops.sigmoid_focal_loss(logits, one_hot, alpha=0.25, gamma=2.0)
    torch.testing.assert_close(got, expected)


def test_focal_loss_class_weight_scales_rows_of_that_class(backend):
    logits, target = logits_and_targets(seed=3, dtype=torch.float64)
    weight = torch.rand(7, dtype=torch.float64) + 0.5
    got = detops.sigmoid_focal_loss(logits, target, weight=weight, reduction="none")
    torch.testing.assert_close(got, py_sigmoid_focal_loss(logits, target, class_weight=weight))


def test_focal_loss_gradient_matches_autograd_of_reference(backend):
    logits, target = logits_and_targets(seed=4)
    logits.requires_grad_()
    upstream = torch.rand(64, 7)
    ours = torch.autograd.grad((detops.sigmoid_focal_loss(logits, target, reduction="none")
                                * upstream).sum(), logits)[0]
    expected = torch.autograd.grad((py_sigmoid_focal_loss(logits, target) * upstream).sum(),
                                   logits)[0]
    torch.testing.assert_close(ours, expected)


@pytest.mark.parametrize("reduction", ["none", "mean"])
@pytest.mark.parametrize("with_weight", [False, True])
def test_focal_loss_gradcheck(backend, reduction, with_weight):
    logits, target = logits_and_targets(n=6, num_classes=3, seed=5, dtype=torch.float64)
    weight = torch.rand(3, dtype=torch.float64) + 0.5 if with_weight else None
    logits.requires_grad_()
    assert torch.autograd.gradcheck(
        lambda x: detops.sigmoid_focal_loss(x, target, 2.0, 0.25, weight, reduction), (logits,))


def test_focal_loss_stays_finite_for_extreme_logits(backend):
    logits = torch.tensor([[-200.0, 200.0, 0.0], [200.0, -200.0, 50.0]], requires_grad=True)
    target = torch.tensor([0, 3])
    loss = detops.sigmoid_focal_loss(logits, target, reduction="none")
    loss.sum().backward()
    assert torch.isfinite(loss).all() and torch.isfinite(logits.grad).all()
    # a confidently wrong target logit costs about alpha * |x|
    assert loss[0, 0].item() == pytest.approx(0.25 * 200.0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_focal_loss_half_precision_is_computed_in_float32(backend, dtype):
    logits, target = logits_and_targets(seed=6)
    logits = logits.to(dtype).requires_grad_()
    loss = detops.sigmoid_focal_loss(logits, target, reduction="none")
    assert loss.dtype == dtype
    torch.testing.assert_close(loss, py_sigmoid_focal_loss(logits.float(), target).to(dtype))
    loss.sum().backward()
    assert logits.grad.dtype == dtype


def test_focal_loss_empty_batch(backend):
    logits = torch.empty(0, 5, requires_grad=True)
    loss = detops.sigmoid_focal_loss(logits, torch.empty(0, dtype=torch.int64))
    assert loss.item() == 0.0
    loss.backward()
    assert logits.grad.shape == (0, 5)


@pytest.mark.parametrize(("target", "error", "message"), [
    (torch.tensor([0, 8]), ValueError,
     r"target values must be class indices in 0..7 \(7 = background\), got values in 0..8"),
    (torch.tensor([0, -1]), ValueError, "got values in -1..0"),
    (torch.tensor([0.0, 1.0]), TypeError, "target must be an integer tensor, got torch.float32"),
    (torch.tensor([0, 1, 2]), ValueError, "input has 2, target has 3"),
])
def test_focal_loss_rejects_bad_targets_with_a_clear_message(target, error, message):
    with pytest.raises(error, match=message):
        detops.sigmoid_focal_loss(torch.randn(2, 7), target)


def test_focal_loss_rejects_bad_weight_and_reduction():
    logits, target = logits_and_targets(n=3)
    with pytest.raises(ValueError, match=r"weight must have shape \(7,\), got \(3,\)"):
        detops.sigmoid_focal_loss(logits, target, weight=torch.ones(3))
    with pytest.raises(ValueError, match=r"reduction must be one of"):
        detops.sigmoid_focal_loss(logits, target, reduction="avg")


def test_focal_loss_kernel_rejects_out_of_range_targets():
    if not _backend.COMPILED:
        pytest.skip("kernels not compiled")
    with pytest.raises(RuntimeError, match=r"target\[1\] = 9 is outside 0..7"):
        torch.ops.detops.sigmoid_focal_loss_forward(torch.randn(2, 7), torch.tensor([0, 9]),
                                                    None, 2.0, 0.25)


def test_focal_loss_exports_with_torch_export():
    if not _backend.COMPILED:
        pytest.skip("kernels not compiled")

    class Loss(torch.nn.Module):
        def forward(self, logits, target):
            return detops.sigmoid_focal_loss(logits, target, reduction="sum")

    logits, target = logits_and_targets(n=8, seed=7)
    program = torch.export.export(Loss(), (logits, target))
    assert "detops.sigmoid_focal_loss_forward" in str(program.graph)
    torch.testing.assert_close(program.module()(logits, target),
                               py_sigmoid_focal_loss(logits, target).sum())
