"""COCO bbox evaluation: detdatasets.evaluation vs pycocotools vs faster-coco-eval.

The same synthetic COCO-like set (5,000 images, about 7 objects per image from 80
categories with COCO's ids, 2% crowd regions, 100 detections per image: jittered copies
of the objects with some wrong labels, and random boxes) is evaluated by each
implementation in this process, end to end: from the annotation dict and the list of
result dicts to the 12 summary numbers (index building and loadRes included).

    python benchmarks/metrics_vs_pycocotools.py            # 5,000 images (pycocotools: minutes)
    python benchmarks/metrics_vs_pycocotools.py --small    # 500 images
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import time

import numpy as np

COCO_CAT_IDS = [i for i in range(1, 91) if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)]


def make_dataset(num_images: int, dets_per_image: int = 100, seed: int = 0) -> tuple[dict, list[dict]]:
    """A COCO ground-truth dict and results list (xywh boxes, scores with ties)."""
    rng = np.random.default_rng(seed)
    width, height = 640.0, 480.0
    images = [dict(id=i + 1, width=int(width), height=int(height), file_name=f"{i + 1:06d}.jpg") for i in range(num_images)]

    def random_boxes(n):
        size = np.exp(rng.uniform(np.log(4), np.log(400), (n, 2)))
        corner = rng.random((n, 2)) * np.clip(np.array([width, height]) - size, 1, None)
        return np.round(np.concatenate([corner, size], axis=1), 2)

    gt_count = rng.poisson(7, num_images)
    gt_image = np.repeat(np.arange(num_images), gt_count)
    gt_boxes = random_boxes(len(gt_image))
    gt_cats = rng.choice(COCO_CAT_IDS, len(gt_image))
    crowd = rng.random(len(gt_image)) < 0.02
    areas = gt_boxes[:, 2] * gt_boxes[:, 3] * rng.uniform(0.6, 1.0, len(gt_image))  # masks fill 60-100% of boxes
    annotations = [
        dict(id=i + 1, image_id=int(img) + 1, category_id=int(c), bbox=b, area=float(a), iscrowd=int(k))
        for i, (img, c, b, a, k) in enumerate(zip(gt_image, gt_cats, gt_boxes.tolist(), areas, crowd))
    ]

    # half of each image's detections (at most 4 per object) copy an object with jitter
    num_copies = np.minimum(gt_count * 4, dets_per_image // 2)
    copy_image = np.repeat(np.arange(num_images), num_copies)
    first_gt = np.cumsum(gt_count) - gt_count
    source = first_gt[copy_image] + (rng.random(len(copy_image)) * gt_count[copy_image]).astype(int)
    jitter = rng.normal(0, 0.15, (len(source), 4)) * np.tile(gt_boxes[source, 2:], 2)
    copies = np.round(gt_boxes[source] + jitter, 2)
    copies[:, 2:] = np.clip(copies[:, 2:], 0.5, None)
    copy_cats = np.where(rng.random(len(source)) < 0.8, gt_cats[source], rng.choice(COCO_CAT_IDS, len(source)))
    num_random = dets_per_image - num_copies
    det_image = np.concatenate([copy_image, np.repeat(np.arange(num_images), num_random)])
    det_boxes = np.concatenate([copies, random_boxes(int(num_random.sum()))])
    det_cats = np.concatenate([copy_cats, rng.choice(COCO_CAT_IDS, int(num_random.sum()))])
    scores = np.round(rng.random(len(det_image)), 3)
    scores[: len(source)] = np.round(np.clip(scores[: len(source)] + 0.3, 0, 1), 3)
    order = np.argsort(det_image, kind="stable")
    results = [
        dict(image_id=int(img) + 1, category_id=int(c), bbox=b, score=float(s))
        for img, c, b, s in zip(det_image[order], det_cats[order], det_boxes[order].tolist(), scores[order])
    ]
    categories = [dict(id=c, name=f"class_{c}") for c in COCO_CAT_IDS]
    return dict(images=images, annotations=annotations, categories=categories), results


def eval_ours(gt: dict, dets: list[dict]) -> list[float]:
    from detdatasets.evaluation import coco_evaluate

    return coco_evaluate(gt, dets, "bbox")


def eval_pycocotools(gt: dict, dets: list[dict]) -> list[float]:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = gt
        coco.createIndex()
        evaluator = COCOeval(coco, coco.loadRes(dets), "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator.stats.tolist()


def eval_faster_coco_eval(gt: dict, dets: list[dict]) -> list[float]:
    from faster_coco_eval import COCO, COCOeval_faster

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(gt)
        evaluator = COCOeval_faster(coco, coco.loadRes(dets), "bbox", print_function=lambda *args: None)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator.stats[:12].tolist()


IMPLEMENTATIONS = {
    "detdatasets.evaluation": eval_ours,
    "pycocotools COCOeval": eval_pycocotools,
    "faster-coco-eval COCOeval_faster": eval_faster_coco_eval,
}


def run(num_images: int = 5000, dets_per_image: int = 100) -> list[dict]:
    """Time each implementation once on fresh copies of the same data; ratios are ours / theirs."""
    gt, dets = make_dataset(num_images, dets_per_image)
    times, stats = {}, {}
    for name, evaluate in IMPLEMENTATIONS.items():
        gt_copy, dets_copy = copy.deepcopy(gt), copy.deepcopy(dets)  # pycocotools edits them in place
        start = time.perf_counter()
        stats[name] = np.asarray(evaluate(gt_copy, dets_copy))
        times[name] = time.perf_counter() - start
    ours = times["detdatasets.evaluation"]
    reference = stats["pycocotools COCOeval"]
    case = f"bbox, {num_images} images x {dets_per_image} dets"
    return [
        {
            "case": case,
            "implementation": name,
            "seconds": times[name],
            "ours / this": ours / times[name],
            "AP": float(stats[name][0]),
            "max |stats - pycocotools|": float(np.abs(stats[name] - reference).max()),
        }
        for name in IMPLEMENTATIONS
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="500 images instead of 5,000")
    args = parser.parse_args()
    rows = run(500 if args.small else 5000)
    columns = list(rows[0])
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row.values()) + " |")


if __name__ == "__main__":
    main()
