"""The middle format (json / yaml / pickle) through BaseDetDataset, and the BaseDataset
protocol: pipeline, refetch, lazy init, indices, errors."""

import json
import pickle

import cv2
import numpy as np
import pytest
import yaml

from detdatasets.datasets import BaseDetDataset, DatasetError
from detdatasets.datasets.writers import write_middle

RECORDS = [
    dict(img_path="a.jpg", img_id=0, height=30, width=40,
         instances=[dict(bbox=[1, 2, 11, 12], bbox_label=1, ignore_flag=0,
                         mask=[[1, 2, 11, 2, 11, 12]]),
                    dict(bbox=[5.5, 5.5, 20, 25], bbox_label=0, ignore_flag=1)]),
    dict(img_path="b.jpg", img_id=1, height=30, width=20, instances=[]),
    dict(img_path="sub/c.jpg", img_id=2, height=10, width=10,
         instances=[dict(bbox=[0, 0, 3, 3], bbox_label=0, ignore_flag=0)]),
]
METAINFO = dict(classes=["cat", "dog"])


def make_images(root):
    for record in RECORDS:
        path = root / "images" / record["img_path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), np.zeros((record["height"], record["width"], 3), np.uint8))


def dump(path, content):
    if path.suffix == ".json":
        path.write_text(json.dumps(content))
    elif path.suffix == ".yaml":
        path.write_text(yaml.safe_dump(content))
    else:
        path.write_bytes(pickle.dumps(content))


@pytest.mark.parametrize("suffix", [".json", ".yaml", ".pkl"])
def test_middle_format_loads_records_with_prefix_joined(tmp_path, suffix):
    make_images(tmp_path)
    dump(tmp_path / f"ann{suffix}", dict(metainfo=METAINFO, data_list=RECORDS))
    dataset = BaseDetDataset(ann_file=f"ann{suffix}", data_root=str(tmp_path),
                             data_prefix=dict(img="images/"))
    assert dataset.metainfo["classes"] == ("cat", "dog")
    assert len(dataset) == 3
    for idx, record in enumerate(RECORDS):
        info = dataset.get_data_info(idx)
        assert info["img_path"] == str(tmp_path / "images" / record["img_path"])
        assert info["instances"] == record["instances"]
        assert info["sample_idx"] == idx
    assert dataset.get_cat_ids(0) == [1, 0]


def test_metainfo_argument_wins_over_the_file(tmp_path):
    make_images(tmp_path)
    dump(tmp_path / "ann.json", dict(metainfo=dict(classes=["cat", "dog"], extra=1),
                                     data_list=RECORDS))
    dataset = BaseDetDataset(ann_file="ann.json", data_root=str(tmp_path),
                             data_prefix=dict(img="images/"), metainfo=dict(classes=("x", "y")))
    assert dataset.metainfo["classes"] == ("x", "y") and dataset.metainfo["extra"] == 1


def test_write_middle_round_trip(tmp_path):
    make_images(tmp_path)
    dump(tmp_path / "ann.json", dict(metainfo=METAINFO, data_list=RECORDS))
    original = BaseDetDataset(ann_file=str(tmp_path / "ann.json"),
                              data_prefix=dict(img=str(tmp_path / "images")))
    records = [original.get_data_info(i) for i in range(len(original))]
    write_middle(tmp_path / "copy.pkl", records, original.metainfo, tmp_path / "images")
    copy = BaseDetDataset(ann_file=str(tmp_path / "copy.pkl"),
                          data_prefix=dict(img=str(tmp_path / "images")))
    assert [copy.get_data_info(i) for i in range(3)] == records


def test_filters_on_middle_format(tmp_path):
    make_images(tmp_path)
    dump(tmp_path / "ann.json", dict(metainfo=METAINFO, data_list=RECORDS))
    common = dict(ann_file="ann.json", data_root=str(tmp_path), data_prefix=dict(img="images/"))
    assert len(BaseDetDataset(**common, filter_cfg=dict(filter_empty_gt=True))) == 2
    assert len(BaseDetDataset(**common, filter_cfg=dict(min_size=20))) == 2
    assert len(BaseDetDataset(**common, indices=2)) == 2
    assert BaseDetDataset(**common, indices=[2]).get_data_info(0)["img_id"] == 2


@pytest.mark.parametrize("records,message", [
    ([dict(RECORDS[0], instances=[dict(bbox=[50, 2, 60, 12], bbox_label=0)])],
     r"ann\.json: data_list\[0\] \(.*a\.jpg\) instance 0: bbox \[50, 2, 60, 12\] lies outside "
     r"the 40 x 30 image"),
    ([dict(RECORDS[0], instances=[dict(bbox=[5, 2, 5, 12], bbox_label=0)])],
     r"data_list\[0\] \(.*a\.jpg\) instance 0: bbox \[5, 2, 5, 12\] has a non-positive size"),
    ([dict(RECORDS[0], instances=[dict(bbox=[1, 2, 5, 12], bbox_label=2)])],
     r"data_list\[0\] \(.*a\.jpg\) instance 0: unknown bbox_label 2: the dataset has 2 classes"),
    ([dict(RECORDS[0], img_path="missing.jpg")],
     r"data_list\[0\] \(.*missing\.jpg\): image file not found"),
    ([dict(img_path="a.jpg", height=3)], r"data_list\[0\]: lacks 'width'"),
    ([], r"ann\.json: data_list: is empty: the file has no images"),
])
def test_bad_middle_records(tmp_path, records, message):
    make_images(tmp_path)
    dump(tmp_path / "ann.json", dict(metainfo=METAINFO, data_list=records))
    with pytest.raises(DatasetError, match=message):
        BaseDetDataset(ann_file=str(tmp_path / "ann.json"),
                       data_prefix=dict(img=str(tmp_path / "images")))


def test_malformed_yaml_and_wrong_layout(tmp_path):
    (tmp_path / "ann.yaml").write_text("data_list: [a, b\nmetainfo: {")
    with pytest.raises(DatasetError, match=r"ann\.yaml: malformed YAML"):
        BaseDetDataset(ann_file=str(tmp_path / "ann.yaml"))
    (tmp_path / "ann.json").write_text("[1, 2]")
    with pytest.raises(DatasetError, match=r"ann\.json: the middle format is a dict with "
                                           r"'metainfo' and 'data_list'; got list"):
        BaseDetDataset(ann_file=str(tmp_path / "ann.json"))
    (tmp_path / "ann.txt").write_text("x")
    with pytest.raises(DatasetError, match=r"unsupported annotation file type '\.txt'"):
        BaseDetDataset(ann_file=str(tmp_path / "ann.txt"))


# ---------------------------------------------------------------------------- pipeline protocol
class DropOdd:
    """A transform that rejects (returns None for) odd sample indices."""

    def __call__(self, results):
        return None if results["sample_idx"] % 2 else dict(results, seen=True)


def middle_dataset(tmp_path, **kwargs):
    make_images(tmp_path)
    dump(tmp_path / "ann.json", dict(metainfo=METAINFO, data_list=RECORDS))
    return BaseDetDataset(ann_file=str(tmp_path / "ann.json"),
                          data_prefix=dict(img=str(tmp_path / "images")), **kwargs)


def test_pipeline_none_refetches_another_index(tmp_path):
    np.random.seed(0)
    dataset = middle_dataset(tmp_path, pipeline=[DropOdd()])
    for _ in range(5):
        sample = dataset[1]
        assert sample["seen"] and sample["sample_idx"] % 2 == 0


def test_pipeline_none_is_an_error_in_test_mode_and_after_max_refetch(tmp_path):
    dataset = middle_dataset(tmp_path, pipeline=[DropOdd()], test_mode=True)
    assert dataset[0]["seen"]
    with pytest.raises(RuntimeError, match="the test pipeline returned None for index 1"):
        dataset[1]
    always_none = middle_dataset(tmp_path, pipeline=[lambda r: None], max_refetch=3)
    with pytest.raises(RuntimeError, match="the pipeline returned None for 4 samples in a row"):
        always_none[0]


def test_lazy_init_loads_on_first_access_with_a_warning(tmp_path):
    dataset = middle_dataset(tmp_path, lazy_init=True)
    assert not dataset._fully_initialized
    with pytest.warns(UserWarning, match=r"BaseDetDataset.__len__\(\) was called before "
                                         r"full_init\(\)"):
        assert len(dataset) == 3


def test_index_out_of_range_and_bad_pipeline_entry(tmp_path):
    dataset = middle_dataset(tmp_path)
    with pytest.raises(IndexError, match="index 3 is out of range for BaseDetDataset with 3"):
        dataset.get_data_info(3)
    with pytest.raises(TypeError, match=r"pipeline\[0\] must be a transform config dict or a "
                                        r"callable, got int"):
        middle_dataset(tmp_path, pipeline=[3])


class KeepIds:
    """A picklable pipeline step: what a DataLoader worker returns for a sample."""

    def __call__(self, results):
        return dict(img_id=results["img_id"], boxes=[i["bbox"] for i in results["instances"]])


def test_serialised_dataset_in_dataloader_workers(tmp_path):
    from torch.utils.data import DataLoader

    from detdatasets.samplers import DefaultSampler

    dataset = middle_dataset(tmp_path, pipeline=[KeepIds()])
    sampler = DefaultSampler(dataset, shuffle=False, seed=0, rank=0, world_size=1)
    loader = DataLoader(dataset, batch_size=2, sampler=sampler, num_workers=2,
                        collate_fn=list)
    samples = [s for batch in loader for s in batch]
    assert [s["img_id"] for s in samples] == [0, 1, 2]
    assert samples[0]["boxes"] == [i["bbox"] for i in RECORDS[0]["instances"]]
