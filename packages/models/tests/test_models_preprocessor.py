"""DetDataPreprocessor against MMDetection 3.3.0's (same batched tensor, same batch_input_shape
and pad_shape, same padded masks and semantic maps) and hand-computed values."""

import numpy as np
import pytest
import torch
from torch import nn

from detcore.registry import MODELS
from detcore.structures import BitmapMasks, DetDataSample, HorizontalBoxes, InstanceData, PixelData
from detmodels.data_preprocessors import DetDataPreprocessor

SIZES = [(30, 45), (41, 33), (17, 64)]


def _images(channels=3, sizes=SIZES, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 256, (channels, h, w), dtype=torch.uint8, generator=generator) for h, w in sizes]


def _masks(size, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2, (2, *size), dtype=np.uint8)


def _our_samples(sizes=SIZES):
    samples = []
    for i, (h, w) in enumerate(sizes):
        sample = DetDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w)))
        sample.gt_instances = InstanceData(
            bboxes=HorizontalBoxes(torch.tensor([[1.0, 2.0, 10.0, 12.0], [0.0, 0.0, 5.0, 5.0]])),
            labels=torch.tensor([0, 1]), masks=BitmapMasks(_masks((h, w), i), h, w))
        sample.gt_sem_seg = PixelData(sem_seg=torch.full((1, h, w), i, dtype=torch.long))
        samples.append(sample)
    return samples


def _their_samples(sizes=SIZES):
    from mmdet.structures import DetDataSample as TheirSample
    from mmdet.structures.bbox import HorizontalBoxes as TheirBoxes
    from mmdet.structures.mask import BitmapMasks as TheirMasks
    from mmengine.structures import InstanceData as TheirInstances
    from mmengine.structures import PixelData as TheirPixels

    samples = []
    for i, (h, w) in enumerate(sizes):
        sample = TheirSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w)))
        sample.gt_instances = TheirInstances(
            bboxes=TheirBoxes(torch.tensor([[1.0, 2.0, 10.0, 12.0], [0.0, 0.0, 5.0, 5.0]])),
            labels=torch.tensor([0, 1]), masks=TheirMasks(_masks((h, w), i), h, w))
        sample.gt_sem_seg = TheirPixels(sem_seg=torch.full((1, h, w), i, dtype=torch.long))
        samples.append(sample)
    return samples


CASES = [
    dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True,
         pad_size_divisor=32, pad_mask=True, pad_seg=True),
    dict(mean=[103.53, 116.28, 123.675], std=[1.0, 1.0, 1.0], pad_size_divisor=1, pad_value=114),
    dict(pad_size_divisor=8, rgb_to_bgr=True, pad_mask=True, mask_pad_value=1, seg_pad_value=7,
         pad_seg=True),
    dict(mean=[127.5], std=[127.5], pad_size_divisor=16),
]


@pytest.mark.peer
@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("kwargs", CASES, ids=[str(i) for i in range(len(CASES))])
def test_matches_mmdet_data_preprocessor(mmdet, kwargs, training):
    from mmdet.models.data_preprocessors import DetDataPreprocessor as Theirs

    images = _images()
    theirs = Theirs(**kwargs)(dict(inputs=[x.clone() for x in images], data_samples=_their_samples()),
                              training)
    ours = DetDataPreprocessor(**kwargs)(dict(inputs=images, data_samples=_our_samples()), training)
    torch.testing.assert_close(ours["inputs"], theirs["inputs"], rtol=0, atol=1e-5)
    for mine, ref in zip(ours["data_samples"], theirs["data_samples"]):
        assert mine.batch_input_shape == ref.batch_input_shape
        assert mine.pad_shape == ref.pad_shape
        assert type(mine.gt_instances.bboxes) is torch.Tensor
        torch.testing.assert_close(mine.gt_instances.bboxes, ref.gt_instances.bboxes)
        np.testing.assert_array_equal(mine.gt_instances.masks.to_ndarray(),
                                      ref.gt_instances.masks.to_ndarray())
        torch.testing.assert_close(mine.gt_sem_seg.sem_seg, ref.gt_sem_seg.sem_seg)


def test_normalise_and_pad_by_hand():
    image = torch.tensor([[[10, 20, 30]], [[40, 50, 60]], [[70, 80, 90]]], dtype=torch.uint8)  # (3, 1, 3)
    out = DetDataPreprocessor(mean=[10, 20, 30], std=[2, 4, 5], bgr_to_rgb=True, pad_size_divisor=4,
                              pad_value=-1)({"inputs": [image], "data_samples": None})
    expected = torch.full((1, 3, 4, 4), -1.0)
    # bgr -> rgb puts (70, 80, 90) first; then (x - mean) / std per channel
    expected[0, :, 0, :3] = torch.tensor([[30.0, 35.0, 40.0], [5.0, 7.5, 10.0], [-4.0, -2.0, 0.0]])
    torch.testing.assert_close(out["inputs"], expected)
    assert out["data_samples"] is None


def test_batched_tensor_input_and_device():
    module = DetDataPreprocessor(mean=[0, 0, 0], std=[255, 255, 255], pad_size_divisor=32)
    samples = [DetDataSample(), DetDataSample()]
    out = module({"inputs": torch.full((2, 3, 40, 50), 255, dtype=torch.uint8), "data_samples": samples})
    assert out["inputs"].shape == (2, 3, 64, 64)
    assert torch.all(out["inputs"][:, :, :40, :50] == 1) and torch.all(out["inputs"][:, :, 40:] == 0)
    assert [s.pad_shape for s in out["data_samples"]] == [(64, 64), (64, 64)]
    assert module.device == torch.device("cpu")
    assert module.to("meta").device == torch.device("meta")
    assert list(DetDataPreprocessor(mean=[1, 2, 3], std=[1, 1, 1]).state_dict()) == []


class _ShiftInputs(nn.Module):
    def __init__(self, offset):
        super().__init__()
        self.offset = offset

    def forward(self, inputs, data_samples):
        for sample in data_samples:
            sample.set_metainfo({"augmented": True})
        return inputs + self.offset, data_samples


def test_batch_augments_run_only_in_training():
    MODELS.register_module(name="TestShiftInputs", module=_ShiftInputs, force=True)
    module = DetDataPreprocessor(batch_augments=[dict(type="TestShiftInputs", offset=5.0)])
    data = lambda: {"inputs": [torch.zeros(3, 4, 4, dtype=torch.uint8)], "data_samples": [DetDataSample()]}  # noqa: E731
    assert torch.all(module(data(), training=False)["inputs"] == 0)
    trained = module(data(), training=True)
    assert torch.all(trained["inputs"] == 5) and trained["data_samples"][0].augmented


def test_clear_errors():
    with pytest.raises(ValueError, match="mean has 3 values, so images must have 3 channels"):
        DetDataPreprocessor(mean=[1, 2, 3], std=[1, 1, 1])({"inputs": _images(channels=1)})
    with pytest.raises(ValueError, match="bgr_to_rgb and rgb_to_bgr cannot both be True"):
        DetDataPreprocessor(bgr_to_rgb=True, rgb_to_bgr=True)
    with pytest.raises(ValueError, match="give both mean and std, or neither"):
        DetDataPreprocessor(mean=[1, 2, 3])
    with pytest.raises(TypeError, match="expects a dict with 'inputs'"):
        DetDataPreprocessor()([torch.zeros(3, 2, 2)])
    with pytest.raises(TypeError, match="'inputs' must be a non-empty list of \\(C, H, W\\) tensors"):
        DetDataPreprocessor()({"inputs": [torch.zeros(2, 2)]})
    with pytest.raises(ValueError, match="different channel counts \\[1, 3\\]"):
        DetDataPreprocessor()({"inputs": [torch.zeros(3, 2, 2), torch.zeros(1, 2, 2)]})
