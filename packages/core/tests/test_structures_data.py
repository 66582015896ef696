"""BaseDataElement, InstanceData, PixelData and DetDataSample.

References: hand-written expectations of MMEngine's / MMDetection 3.x's documented behaviour
and (peer) MMEngine 0.10.7's own InstanceData, indexed and concatenated the same way.
"""

import pickle

import numpy as np
import pytest
import torch

from detcore.structures.base_data_element import BaseDataElement
from detcore.structures.bbox import HorizontalBoxes
from detcore.structures.det_data_sample import DetDataSample
from detcore.structures.instance_data import InstanceData
from detcore.structures.pixel_data import PixelData


# ---------------------------------------------------------------- BaseDataElement
def make_element():
    return BaseDataElement(
        metainfo=dict(img_id=3, img_shape=(20, 30)), scores=torch.tensor([0.5, 0.25]), name="cat"
    )


def test_metainfo_and_data_fields_are_kept_apart():
    element = make_element()
    assert element.metainfo_keys() == ["img_id", "img_shape"]
    assert element.keys() == ["scores", "name"]
    assert element.all_keys() == ["img_id", "img_shape", "scores", "name"]
    assert element.metainfo == {"img_id": 3, "img_shape": (20, 30)}
    assert element.metainfo_values() == [3, (20, 30)]
    assert dict(element.items())["name"] == "cat"
    assert [k for k, _ in element.all_items()] == element.all_keys()
    assert element.img_shape == (20, 30) and element.name == "cat"
    assert "img_id" in element and "scores" in element and "boxes" not in element


def test_set_metainfo_deep_copies_and_set_field_checks_dtype():
    meta = {"pad": [1, 2]}
    element = BaseDataElement(metainfo=meta)
    meta["pad"].append(3)
    assert element.pad == [1, 2]
    element.set_field(torch.ones(2), "weights", dtype=torch.Tensor)
    assert element.keys() == ["weights"]
    with pytest.raises(
        TypeError, match="BaseDataElement.weights must be <class 'torch.Tensor'>, but got list"
    ):
        element.set_field([1.0], "weights", dtype=torch.Tensor)
    with pytest.raises(ValueError, match="field_type must be 'metainfo' or 'data', but got 'meta'"):
        element.set_field(1, "x", field_type="meta")
    with pytest.raises(TypeError, match="metainfo must be a dict, but got list"):
        element.set_metainfo([1])


def test_metainfo_data_clash_and_private_names_raise_clear_errors():
    element = make_element()
    with pytest.raises(
        AttributeError,
        match="Cannot set 'img_id' as a data field of BaseDataElement: it is already a metainfo field",
    ):
        element.img_id = 4
    with pytest.raises(
        AttributeError,
        match="Cannot set 'scores' as a metainfo field of BaseDataElement: it is already a data field",
    ):
        element.set_metainfo({"scores": 1})
    with pytest.raises(
        AttributeError,
        match="_data_fields is a private attribute of BaseDataElement and is immutable",
    ):
        element._data_fields = {}
    with pytest.raises(AttributeError, match="_metainfo_fields is a private attribute"):
        del element._metainfo_fields
    with pytest.raises(
        AttributeError,
        match="Cannot use 'keys' as a field name of BaseDataElement: it would hide BaseDataElement.keys",
    ):
        element.keys = [1]
    assert element.img_id == 3 and element.keys() == ["scores", "name"]


def test_missing_field_error_lists_existing_fields():
    element = make_element()
    with pytest.raises(
        AttributeError,
        match=r"BaseDataElement has no field 'bboxes' \(metainfo fields: \['img_id', 'img_shape'\], data fields: \['scores', 'name'\]\)",
    ):
        _ = element.bboxes
    assert (
        element.get("bboxes") is None
        and element.get("bboxes", 7) == 7
        and element.get("name") == "cat"
    )


def test_pop_delete_and_update():
    element = make_element()
    assert element.pop("name") == "cat" and "name" not in element
    assert element.pop("img_id") == 3 and element.metainfo_keys() == ["img_shape"]
    assert element.pop("absent", "default") == "default"
    with pytest.raises(
        KeyError, match="'absent' is neither a metainfo nor a data field of BaseDataElement"
    ):
        element.pop("absent")
    del element.scores
    assert element.keys() == []
    element.update(make_element())
    assert element.all_keys() == ["img_shape", "img_id", "scores", "name"]
    with pytest.raises(TypeError, match="update\\(\\) expects a BaseDataElement, but got dict"):
        element.update({"a": 1})


def test_new_is_shallow_and_clone_is_deep():
    element = make_element()
    new = element.new()
    assert new.scores is element.scores and new.metainfo == element.metainfo
    replaced = element.new(metainfo=dict(img_id=9), labels=torch.tensor([1]))
    assert replaced.metainfo == {"img_id": 9} and replaced.keys() == ["labels"]
    clone = element.clone()
    assert type(clone) is BaseDataElement and torch.equal(clone.scores, element.scores)
    clone.scores[0] = -1
    assert element.scores[0] == 0.5


def test_device_and_format_conversions_apply_to_data_fields_only():
    source = torch.tensor([1.0, 2.0], requires_grad=True) * 2
    element = BaseDataElement(
        metainfo=dict(scale=torch.ones(1)), scores=source, boxes=HorizontalBoxes([[0, 0, 2, 2]])
    )
    as_numpy = element.numpy()
    assert isinstance(as_numpy.scores, np.ndarray) and isinstance(as_numpy.boxes, np.ndarray)
    assert isinstance(as_numpy.scale, torch.Tensor)  # metainfo untouched
    back = as_numpy.to_tensor()
    assert isinstance(back.scores, torch.Tensor) and torch.equal(
        back.scores, torch.tensor([2.0, 4.0])
    )
    detached = element.detach()
    assert not detached.scores.requires_grad and not detached.boxes.tensor.requires_grad
    as_double = element.to(torch.float64)
    assert as_double.scores.dtype == torch.float64 and as_double.boxes.dtype == torch.float64
    assert element.cpu().scores.device.type == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_moves_nested_fields():
    sample = DetDataSample(
        gt_instances=InstanceData(bboxes=HorizontalBoxes([[0, 0, 1, 1]]), labels=torch.tensor([2]))
    )
    on_gpu = sample.cuda()
    assert on_gpu.gt_instances.labels.is_cuda and on_gpu.gt_instances.bboxes.device.type == "cuda"
    assert on_gpu.cpu().gt_instances.labels.device.type == "cpu"


def test_repr_shows_both_sections_and_nested_elements():
    sample = DetDataSample(
        metainfo=dict(img_id=5), gt_instances=InstanceData(labels=torch.tensor([1, 2]))
    )
    text = repr(sample)
    assert text.startswith("<DetDataSample(")
    assert "META INFORMATION" in text and "DATA FIELDS" in text
    assert (
        "img_id: 5" in text
        and "gt_instances: <InstanceData(" in text
        and "labels: tensor([1, 2])" in text
    )


def test_to_dict_is_nested_plain_dicts():
    sample = DetDataSample(metainfo=dict(img_id=5), gt_instances=InstanceData(labels=[1, 2]))
    assert sample.to_dict() == {"img_id": 5, "gt_instances": {"labels": [1, 2]}}


# ---------------------------------------------------------------- InstanceData
def make_instances():
    return InstanceData(
        metainfo=dict(img_shape=(50, 60)),
        bboxes=torch.arange(16, dtype=torch.float32).reshape(4, 4),
        labels=torch.tensor([0, 3, 1, 3]),
        names=["a", "b", "c", "d"],
        areas=np.array([1.0, 2.0, 3.0, 4.0]),
        boxes=HorizontalBoxes(torch.arange(16, dtype=torch.float32).reshape(4, 4)),
    )


def test_instance_lengths_must_agree_and_errors_name_both_fields():
    instances = make_instances()
    assert len(instances) == 4
    with pytest.raises(
        ValueError,
        match="InstanceData field 'scores' has length 3, but field 'bboxes' has length 4; all fields must have the same length",
    ):
        instances.scores = torch.ones(3)
    with pytest.raises(
        ValueError, match="field 'labels' has length 2, but field 'bboxes' has length 4"
    ):
        instances["labels"] = torch.ones(2)
    with pytest.raises(
        TypeError, match="InstanceData field 'count' must have a length .* but got int"
    ):
        instances.count = 4
    assert "scores" not in instances and instances.labels.tolist() == [0, 3, 1, 3]
    single = InstanceData(bboxes=torch.zeros(2, 4))
    single.bboxes = torch.zeros(5, 4)  # replacing the only field may change the length
    assert len(single) == 5 and len(InstanceData()) == 0


def assert_selected(selected, positions):
    full = make_instances()
    assert selected.metainfo == {"img_shape": (50, 60)}
    torch.testing.assert_close(selected.bboxes, full.bboxes[positions])
    assert selected.labels.tolist() == full.labels[positions].tolist()
    assert selected.names == [full.names[i] for i in positions]
    np.testing.assert_array_equal(selected.areas, full.areas[positions])
    assert isinstance(selected.boxes, HorizontalBoxes)
    torch.testing.assert_close(selected.boxes.tensor, full.bboxes[positions])


def test_index_by_int_gives_one_instance():
    instances = make_instances()
    assert_selected(instances[1], [1])
    assert_selected(instances[-1], [3])
    with pytest.raises(IndexError, match="index 4 is out of range for InstanceData of length 4"):
        instances[4]


def test_index_by_slice_long_tensor_list_and_ndarray():
    instances = make_instances()
    assert_selected(instances[1:3], [1, 2])
    assert_selected(instances[::2], [0, 2])
    assert_selected(instances[torch.tensor([3, 0, 0])], [3, 0, 0])
    assert_selected(instances[[2, 1]], [2, 1])
    assert_selected(instances[np.array([1, 3], dtype=np.int32)], [1, 3])
    assert_selected(instances[torch.tensor([], dtype=torch.long)], [])


def test_index_by_bool_tensor_and_bool_ndarray():
    instances = make_instances()
    assert_selected(instances[instances.labels == 3], [1, 3])
    assert_selected(instances[np.array([True, False, False, True])], [0, 3])
    assert_selected(instances[torch.zeros(4, dtype=torch.bool)], [])
    with pytest.raises(
        IndexError, match="boolean index has length 3, but the InstanceData has length 4"
    ):
        instances[torch.tensor([True, False, True])]


def test_bad_indices_have_clear_errors():
    instances = make_instances()
    with pytest.raises(IndexError, match=r"index tensors must be 1-D, but got shape \(2, 2\)"):
        instances[torch.zeros(2, 2, dtype=torch.long)]
    with pytest.raises(
        TypeError, match="index tensors must be integer or bool, but got torch.float32"
    ):
        instances[torch.tensor([0.0, 1.0])]
    with pytest.raises(TypeError, match="InstanceData cannot be indexed by float"):
        instances[1.5]
    assert instances["labels"] is instances.labels


def test_iteration_yields_single_instances():
    labels = [item.labels.item() for item in make_instances()]
    assert labels == [0, 3, 1, 3]


def test_cat_concatenates_every_field_kind():
    a, b = make_instances(), make_instances()[2:]
    joined = InstanceData.cat([a, b])
    assert len(joined) == 6
    torch.testing.assert_close(joined.bboxes, torch.cat([a.bboxes, b.bboxes]))
    assert joined.names == ["a", "b", "c", "d", "c", "d"]
    np.testing.assert_array_equal(joined.areas, [1.0, 2.0, 3.0, 4.0, 3.0, 4.0])
    assert isinstance(joined.boxes, HorizontalBoxes) and len(joined.boxes) == 6
    assert joined.metainfo == a.metainfo
    assert InstanceData.cat([a]).keys() == a.keys()


def test_cat_errors_name_the_problem():
    a = make_instances()
    with pytest.raises(
        ValueError, match="InstanceData.cat: element 1 has fields \\['bboxes'\\], but element 0 has"
    ):
        InstanceData.cat([a, InstanceData(bboxes=torch.zeros(1, 4))])
    with pytest.raises(ValueError, match="needs at least one InstanceData"):
        InstanceData.cat([])
    with pytest.raises(TypeError, match="element 1 is a dict, not an InstanceData"):
        InstanceData.cat([a, {}])


@pytest.mark.peer
def test_indexing_and_cat_match_mmengine_instance_data():
    mmengine_structures = pytest.importorskip("mmengine.structures")
    g = torch.Generator().manual_seed(0)
    fields = dict(
        bboxes=torch.rand(6, 4, generator=g),
        scores=torch.rand(6, generator=g),
        ids=np.arange(6),
        tags=list("uvwxyz"),
    )
    ours, theirs = InstanceData(**fields), mmengine_structures.InstanceData(**fields)
    for index in (
        torch.tensor([True, False, True, True, False, False]),
        torch.tensor([5, 0, 2]),
        slice(1, 4),
        2,
        -1,
    ):
        selected, expected = ours[index], theirs[index]
        assert len(selected) == len(expected)
        torch.testing.assert_close(selected.bboxes, expected.bboxes)
        np.testing.assert_array_equal(selected.ids, expected.ids)
        assert selected.tags == expected.tags
    joined = InstanceData.cat([ours, ours[:2]])
    expected = mmengine_structures.InstanceData.cat([theirs, theirs[:2]])
    torch.testing.assert_close(joined.scores, expected.scores)
    assert joined.tags == expected.tags


# ---------------------------------------------------------------- PixelData
def test_pixel_data_shapes_and_cropping():
    pixels = PixelData(
        metainfo=dict(img_id=1), sem_seg=torch.arange(20).reshape(4, 5), heat=np.zeros((3, 4, 5))
    )
    assert pixels.sem_seg.shape == (1, 4, 5) and pixels.shape == (4, 5)
    crop = pixels[1:3, 2:]
    assert crop.shape == (2, 3) and crop.heat.shape == (3, 2, 3) and crop.img_id == 1
    assert crop.sem_seg[0].tolist() == [[7, 8, 9], [12, 13, 14]]
    assert pixels[-1, 0].sem_seg.tolist() == [[[15]]]
    assert PixelData().shape is None


def test_pixel_data_errors_are_clear():
    pixels = PixelData(sem_seg=torch.zeros(4, 5))
    with pytest.raises(
        ValueError,
        match=r"PixelData field 'mask' has \(H, W\) = \(4, 6\), but field 'sem_seg' has \(H, W\) = \(4, 5\)",
    ):
        pixels.mask = torch.zeros(2, 4, 6)
    with pytest.raises(
        ValueError,
        match=r"PixelData field 'volume' must have shape \(C, H, W\) or \(H, W\), but got shape \(1, 1, 4, 5\)",
    ):
        pixels.volume = torch.zeros(1, 1, 4, 5)
    with pytest.raises(
        TypeError,
        match="PixelData field 'label' must be a torch.Tensor or np.ndarray, but got list",
    ):
        pixels.label = [[0]]
    with pytest.raises(TypeError, match="PixelData is indexed by a \\(rows, cols\\) pair"):
        pixels[0]


# ---------------------------------------------------------------- DetDataSample
def test_det_data_sample_typed_fields_set_get_delete():
    sample = DetDataSample(
        metainfo=dict(
            img_id=11, img_shape=(480, 640), ori_shape=(960, 1280), scale_factor=(0.5, 0.5)
        )
    )
    instances = InstanceData(bboxes=HorizontalBoxes([[0, 0, 5, 5]]), labels=torch.tensor([2]))
    sample.gt_instances = instances
    sample.pred_instances = InstanceData(scores=torch.tensor([0.9]))
    sample.proposals = InstanceData(bboxes=torch.zeros(3, 4))
    sample.ignored_instances = InstanceData()
    for name in ("gt_sem_seg", "pred_sem_seg", "gt_panoptic_seg", "pred_panoptic_seg"):
        setattr(sample, name, PixelData(sem_seg=torch.zeros(1, 4, 4)))
    assert sample.gt_instances is instances and sample.scale_factor == (0.5, 0.5)
    assert sample.keys() == [
        "gt_instances",
        "pred_instances",
        "proposals",
        "ignored_instances",
        "gt_sem_seg",
        "pred_sem_seg",
        "gt_panoptic_seg",
        "pred_panoptic_seg",
    ]
    del sample.pred_instances
    assert "pred_instances" not in sample and sample.get("pred_instances") is None
    with pytest.raises(AttributeError, match="DetDataSample has no field 'pred_instances'"):
        _ = sample.pred_instances


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (
            "gt_instances",
            PixelData(),
            "DetDataSample.gt_instances must be of type InstanceData, but got PixelData",
        ),
        (
            "pred_instances",
            {"bboxes": 1},
            "DetDataSample.pred_instances must be of type InstanceData, but got dict",
        ),
        (
            "gt_sem_seg",
            InstanceData(),
            "DetDataSample.gt_sem_seg must be of type PixelData, but got InstanceData",
        ),
        (
            "pred_panoptic_seg",
            torch.zeros(1, 2, 2),
            "DetDataSample.pred_panoptic_seg must be of type PixelData, but got Tensor",
        ),
    ],
)
def test_det_data_sample_rejects_wrong_types(name, value, expected):
    sample = DetDataSample()
    with pytest.raises(TypeError, match=expected):
        setattr(sample, name, value)
    assert name not in sample and sample.keys() == []


def test_det_data_sample_conversions_pickling_and_untyped_fields():
    sample = DetDataSample(
        metainfo=dict(img_id=1), gt_instances=InstanceData(labels=torch.tensor([1, 0]))
    )
    sample.extra = torch.ones(2)  # untyped fields are still allowed, as in MMDetection
    as_numpy = sample.numpy()
    assert isinstance(as_numpy, DetDataSample) and isinstance(
        as_numpy.gt_instances.labels, np.ndarray
    )
    restored = pickle.loads(pickle.dumps(sample))
    assert restored.keys() == [
        "gt_instances",
        "extra",
    ] and restored.gt_instances.labels.tolist() == [1, 0]
    clone = sample.clone()
    clone.gt_instances.labels[0] = 7
    assert sample.gt_instances.labels[0] == 1


def test_instance_data_indexes_and_concatenates_detcore_masks():
    """Bitmap and polygon masks of detcore.structures.mask travel with the other fields."""
    mask_module = pytest.importorskip("detcore.structures.mask")
    bitmaps = np.zeros((3, 8, 9), dtype=np.uint8)
    bitmaps[:, 0, 0] = [1, 2, 3]  # tells the instances apart
    polygons = [[np.array([i, 0.0, i + 1, 0.0, i + 1, 1.0])] for i in range(3)]
    instances = InstanceData(
        masks=mask_module.BitmapMasks(bitmaps, 8, 9),
        polygons=mask_module.PolygonMasks(polygons, 8, 9),
        labels=torch.tensor([0, 1, 2]),
    )
    kept = instances[instances.labels != 1]
    assert kept.masks.masks[:, 0, 0].tolist() == [1, 3]
    assert [p[0][0] for p in kept.polygons.masks] == [0.0, 2.0]
    joined = InstanceData.cat([instances, kept])
    assert joined.masks.masks[:, 0, 0].tolist() == [1, 2, 3, 1, 3]
    assert len(joined.polygons) == 5 and len(instances[2].masks) == 1
