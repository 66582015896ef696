"""The detops package: its exports, info(), lazy import, and the fallback when the compiled
kernels cannot be loaded (checked in a fresh interpreter where importing detops._C fails)."""

import subprocess
import sys
import textwrap

import pytest
import torch

import detops
from detops import _backend


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120)


def test_every_exported_name_resolves_and_every_function_is_listed_in_info():
    for name in detops.__all__:
        assert callable(getattr(detops, name)), name
    functions = {name for name in detops.__all__ if name[0].islower()}
    assert functions - {"info", "mask_matrix_nms", "multi_scale_deformable_attn_pytorch"} \
        == set(detops.info())


def test_info_reports_the_compiled_cpu_kernels():
    report = detops.info()
    for op, served in report.items():
        assert set(served) == {"cpu", "cuda"}, op
        assert served["cpu"] in {"compiled", "torch"}
        assert served["cuda"] in {"compiled", "torch", "n/a"}
    expected_cpu = "compiled" if _backend.COMPILED else "torch"
    for op in ("nms", "batched_nms", "soft_nms", "box_iou", "bbox_overlaps", "box_iou_rotated",
               "nms_rotated", "sigmoid_focal_loss", "roi_align", "roi_pool", "deform_conv2d",
               "multi_scale_deformable_attn"):
        assert report[op]["cpu"] == expected_cpu, op
    assert report["matrix_nms"]["cpu"] == "torch"  # pure tensor algebra, no kernel
    if not torch.cuda.is_available() and not _backend.WITH_CUDA:
        assert {served["cuda"] for served in report.values()} == {"n/a"}


def test_submodules_resolve_as_attributes():
    result = run_python("""
        import detops
        print(detops._backend.COMPILED in (True, False), callable(detops.nms),
              detops.suppression.nms is detops.nms)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True True True"


def test_unknown_attribute_raises_attribute_error():
    with pytest.raises(AttributeError, match="module 'detops' has no attribute 'roi_alin'"):
        detops.roi_alin  # noqa: B018


def test_use_kernel_refuses_tensors_on_different_devices():
    assert not _backend.use_kernel("nms", torch.zeros(1), torch.zeros(1, device="meta"))
    assert not _backend.has_kernel("no_such_op")


def test_importing_detops_and_its_plugin_does_not_import_torch():
    result = run_python("""
        import sys
        import detops, detops.plugin
        print("torch" in sys.modules)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@pytest.mark.slow
def test_without_compiled_kernels_ops_fall_back_with_one_warning():
    result = run_python("""
        import importlib.abc, sys, warnings

        class NoKernels(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == "detops._C":
                    raise ImportError("simulated: no compiler at install time")

        sys.meta_path.insert(0, NoKernels())
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import torch, torchvision
            import detops
            boxes = torch.rand(200, 4) * 100
            boxes[:, 2:] += boxes[:, :2]
            scores = torch.rand(200)
            same = torch.equal(detops.nms(boxes, scores, 0.5),
                               torchvision.ops.nms(boxes, scores, 0.5))
            detops.box_iou(boxes, boxes)
            detops.sigmoid_focal_loss(torch.randn(4, 3), torch.tensor([0, 1, 2, 3]))
        mine = [w for w in caught if "detops" in str(w.message)]
        print(same, len(mine), detops.info()["nms"]["cpu"], detops.info()["box_iou"]["cpu"])
        print(mine[0].message)
    """)
    assert result.returncode == 0, result.stderr
    summary, message = result.stdout.strip().splitlines()
    assert summary == "True 1 torch torch"
    assert "compiled kernels are not available" in message
    assert "simulated: no compiler at install time" in message
