"""Dataset wrappers: index mapping, metainfo checks, repeat factors computed by hand, and the
mixing wrapper's protocol."""

import copy

import pytest

from detdatasets.datasets import (
    BaseDetDataset,
    ClassBalancedDataset,
    ConcatDataset,
    MultiImageMixDataset,
    RepeatDataset,
)


class ListDataset(BaseDetDataset):
    """Records given in memory (no files): one image per list of labels."""

    def __init__(self, labels_per_image, classes=("a", "b", "c"), **kwargs):
        self.records = [dict(img_path=f"{i}.jpg", img_id=i, width=10 + i, height=10,
                             instances=[dict(bbox=[0, 0, 2, 2], bbox_label=label, ignore_flag=0)
                                        for label in labels])
                        for i, labels in enumerate(labels_per_image)]
        kwargs.setdefault("metainfo", dict(classes=classes))
        super().__init__(check_images=False, **kwargs)

    def load_data_list(self):
        return copy.deepcopy(self.records)


def test_concat_maps_indices_and_checks_metainfo():
    first, second = ListDataset([[0], [1]]), ListDataset([[2], [0, 1], []])
    concat = ConcatDataset([first, dict(type=ListDataset, labels_per_image=[[1]])])
    assert len(concat) == 3 and concat.cumulative_sizes == [2, 3]
    assert concat.get_data_info(2)["img_id"] == 0 and concat.get_cat_ids(2) == [1]
    both = ConcatDataset([first, second])
    assert [both.get_data_info(i)["img_id"] for i in range(5)] == [0, 1, 0, 1, 2]
    assert both.get_cat_ids(-2) == [0, 1] and both[3]["instances"][1]["bbox_label"] == 1
    other = ListDataset([[0]], classes=("x", "y"))
    with pytest.raises(ValueError, match=r"metainfo 'classes' of dataset 1 \(\('x', 'y'\)\) "
                                         r"differs from dataset 0's"):
        ConcatDataset([first, other])
    assert len(ConcatDataset([first, other], ignore_keys="classes")) == 3
    with pytest.raises(IndexError, match="index 5 is out of range for ConcatDataset"):
        both.get_data_info(5)


def test_repeat_dataset():
    repeated = RepeatDataset(ListDataset([[0], [1], [2]]), times=3)
    assert len(repeated) == 9
    assert [repeated.get_data_info(i)["img_id"] for i in (0, 4, 8)] == [0, 1, 2]
    with pytest.raises(ValueError, match="times must be a positive int, got 0"):
        RepeatDataset(ListDataset([[0]]), times=0)


def test_class_balanced_repeat_factors_hand_computed():
    # f(a) = 3/4, f(b) = 1/4; thr 0.5: r(a) = 1, r(b) = sqrt(2); the image with b (and a)
    # repeats ceil(sqrt 2) = 2 times, the empty image once
    balanced = ClassBalancedDataset(ListDataset([[0], [0], [0, 1], []]), oversample_thr=0.5)
    assert balanced.repeat_factors == pytest.approx([1, 1, 2 ** 0.5, 1])
    assert balanced.repeat_indices == [0, 1, 2, 2, 3]
    assert len(balanced) == 5 and balanced.get_data_info(3)["img_id"] == 2
    rare = ClassBalancedDataset(ListDataset([[0], [0], [0], [0], [1]]), oversample_thr=0.8)
    # f(b) = 0.2: r = sqrt(4) = 2 exactly; f(a) = 0.8: r = 1
    assert rare.repeat_indices == [0, 1, 2, 3, 4, 4]


class FakeMosaic:
    """Asks for two other images and records which it got."""

    def get_indexes(self, dataset):
        return [1, 2]

    def __call__(self, results):
        results["mixed_with"] = [r["img_id"] for r in results["mix_results"]]
        return results


def test_multi_image_mix_passes_mix_results_and_skips_types():
    dataset = ListDataset([[0], [1], [2]])
    mixed = MultiImageMixDataset(dataset, pipeline=[FakeMosaic(), lambda r: dict(r, done=True)])
    sample = mixed[0]
    assert sample["mixed_with"] == [1, 2] and sample["done"] and "mix_results" not in sample
    assert mixed.pipeline_types == ["FakeMosaic", "function"]
    mixed.update_skip_type_keys(["FakeMosaic"])
    assert "mixed_with" not in mixed[0] and mixed[0]["done"]
    failing = MultiImageMixDataset(dataset, pipeline=[lambda r: None], max_refetch=2)
    with pytest.raises(RuntimeError, match="returned None 2 times in a row"):
        failing[0]


def test_wrappers_expose_the_wrapped_metainfo():
    dataset = ListDataset([[0]])
    for wrapper in (RepeatDataset(dataset, 2), ClassBalancedDataset(dataset, 0.1),
                    ConcatDataset([dataset]), MultiImageMixDataset(dataset, [])):
        assert wrapper.metainfo["classes"] == ("a", "b", "c")
    with pytest.raises(TypeError, match="expected a dataset or a dataset config dict, got int"):
        RepeatDataset(3, 2)
