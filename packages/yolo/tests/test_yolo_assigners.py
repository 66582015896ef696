"""BatchTaskAlignedAssigner against Ultralytics' TaskAlignedAssigner (random batches with
padding, with and without its small-box widening), a hand-computed case, and the
ground-truth batching helper."""

import pytest
import torch

from detcore.structures import HorizontalBoxes, InstanceData
from detyolo.task_modules import BatchTaskAlignedAssigner, pad_gt_instances


def _grid_points(size=64, strides=(8, 16, 32)):
    points = []
    for s in strides:
        ys, xs = torch.meshgrid(torch.arange(size // s), torch.arange(size // s), indexing="ij")
        points.append(torch.stack([(xs.flatten() + 0.5) * s, (ys.flatten() + 0.5) * s], 1))
    return torch.cat(points).float()


def _random_batch(seed, num_classes=4, size=64):
    """Predictions near the gts so that metrics are informative; image 1 has one real gt
    and two padded rows."""
    generator = torch.Generator().manual_seed(seed)
    points = _grid_points(size)
    num_priors = len(points)
    xy = torch.rand(2, 3, 2, generator=generator) * size * 0.6
    wh = 4 + torch.rand(2, 3, 2, generator=generator) * size * 0.4
    gt_bboxes = torch.cat([xy, xy + wh], -1)
    gt_labels = torch.randint(0, num_classes, (2, 3, 1), generator=generator).float()
    pad = torch.ones(2, 3, 1)
    pad[1, 1:] = 0
    gt_bboxes[1, 1:] = 0
    gt_labels[1, 1:] = 0
    centres = points[None].expand(2, -1, -1)
    half = 2 + torch.rand(2, num_priors, 2, generator=generator) * 12
    pred_bboxes = torch.cat([centres - half, centres + half], -1)
    pred_scores = torch.rand(2, num_priors, num_classes, generator=generator)
    return pred_bboxes, pred_scores, points, gt_labels, gt_bboxes, pad


@pytest.mark.peer
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("widen_small_boxes", [False, True])
def test_matches_ultralytics_task_aligned_assigner(seed, widen_small_boxes):
    """MMYOLO's assigner (no widening) is Ultralytics' with stride 0 for the widening."""
    from ultralytics.utils.tal import TaskAlignedAssigner

    pred_bboxes, pred_scores, points, gt_labels, gt_bboxes, pad = _random_batch(seed)
    theirs = TaskAlignedAssigner(topk=10, num_classes=4, alpha=0.5, beta=6.0,
                                 stride=[8, 16, 32] if widen_small_boxes else [0, 0])
    labels, bboxes, scores, fg, gt_idx = theirs(pred_scores, pred_bboxes, points, gt_labels,
                                                gt_bboxes, pad)
    ours = BatchTaskAlignedAssigner(4, topk=10, alpha=0.5, beta=6.0, eps=1e-9, use_ciou=True,
                                    min_gt_side=16 if widen_small_boxes else None)
    result = ours(pred_bboxes, pred_scores, points, gt_labels, gt_bboxes, pad)
    assert torch.equal(result["fg_mask_pre_prior"], fg)
    assert fg.any()
    assert torch.equal(result["assigned_gt_idxs"][fg], gt_idx[fg])
    assert torch.equal(result["assigned_labels"][fg], labels[fg])
    assert (result["assigned_labels"][~fg] == 4).all()
    torch.testing.assert_close(result["assigned_bboxes"][fg], bboxes[fg])
    torch.testing.assert_close(result["assigned_scores"], scores.float())


def test_single_gt_by_hand():
    """One 20x20 gt over four stride-8 cells: those priors are its candidates; with topk=2
    the two with the best score**1 * IoU**1 win, their soft score is metric / max metric *
    max IoU."""
    points = torch.tensor([[4., 4], [12, 4], [4, 12], [12, 12], [28, 28]])
    gt_bboxes = torch.tensor([[[0., 0, 20, 20]]])
    gt_labels = torch.tensor([[[1.]]])
    pred_bboxes = torch.tensor([[[0., 0, 20, 20], [0, 0, 10, 20], [0, 0, 20, 10], [10, 10, 20, 20],
                                 [0., 0, 20, 20]]])
    pred_scores = torch.zeros(1, 5, 2)
    pred_scores[0, :, 1] = torch.tensor([0.5, 0.9, 0.2, 0.9, 0.9])
    assigner = BatchTaskAlignedAssigner(2, topk=2, alpha=1.0, beta=1.0)
    result = assigner(pred_bboxes, pred_scores, points, gt_labels, gt_bboxes, torch.ones(1, 1, 1))
    # IoUs 1, 0.5, 0.5, 0.25; metrics 0.5, 0.45, 0.1, 0.225 -> priors 0 and 1
    assert result["fg_mask_pre_prior"].tolist() == [[True, True, False, False, False]]
    assert result["assigned_labels"].tolist() == [[1, 1, 2, 2, 2]]
    expected = torch.tensor([0.5, 0.45]) / 0.5 * 1.0
    torch.testing.assert_close(result["assigned_scores"][0, :2, 1], expected, rtol=1e-5, atol=1e-6)
    assert result["assigned_scores"][0, :, 0].abs().sum() == 0


def test_prior_claimed_by_two_gts_goes_to_the_larger_overlap():
    points = torch.tensor([[10., 10]])
    gt_bboxes = torch.tensor([[[0., 0, 20, 20], [5, 5, 40, 40]]])
    pred_bboxes = torch.tensor([[[6., 6, 38, 38]]])
    result = BatchTaskAlignedAssigner(1, topk=1)(pred_bboxes, torch.ones(1, 1, 1), points,
                                                 torch.zeros(1, 2, 1), gt_bboxes,
                                                 torch.ones(1, 2, 1))
    assert result["assigned_gt_idxs"].tolist() == [[1]]
    torch.testing.assert_close(result["assigned_bboxes"][0, 0], gt_bboxes[0, 1])


def test_no_gt_gives_background_everywhere():
    result = BatchTaskAlignedAssigner(3)(torch.zeros(2, 5, 4), torch.rand(2, 5, 3),
                                         torch.rand(5, 2), torch.zeros(2, 0, 1),
                                         torch.zeros(2, 0, 4), torch.zeros(2, 0, 1))
    assert not result["fg_mask_pre_prior"].any()
    assert (result["assigned_labels"] == 3).all()
    assert result["assigned_scores"].shape == (2, 5, 3) and result["assigned_scores"].sum() == 0


def test_topk_must_be_positive():
    with pytest.raises(ValueError, match="topk must be >= 1, got 0"):
        BatchTaskAlignedAssigner(3, topk=0)


def test_pad_gt_instances():
    gts = [InstanceData(bboxes=HorizontalBoxes(torch.tensor([[1., 2, 3, 4], [5, 6, 7, 8]])),
                        labels=torch.tensor([3, 1])),
           InstanceData(bboxes=torch.zeros(0, 4), labels=torch.zeros(0, dtype=torch.long)),
           InstanceData(bboxes=torch.tensor([[9., 9, 10, 10]]), labels=torch.tensor([2]))]
    labels, bboxes, valid = pad_gt_instances(gts)
    assert labels.shape == (3, 2, 1) and bboxes.shape == (3, 2, 4)
    assert valid[..., 0].tolist() == [[1, 1], [0, 0], [1, 0]]
    assert labels[..., 0].tolist() == [[3, 1], [0, 0], [2, 0]]
    torch.testing.assert_close(bboxes[2, 0], torch.tensor([9., 9, 10, 10]))
    assert bboxes[1].abs().sum() == 0

