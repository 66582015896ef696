"""AnchorHead: one 1x1 conv for class scores and one for box deltas on every level, trained
against anchors matched to gt boxes by an assigner (the base of RPN, RetinaNet, SSD, ATSS)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from detcore.registry import MODELS, TASK_UTILS
from detcore.structures import InstanceData
from detcore.structures.bbox import cat_boxes, get_box_tensor

from ..task_modules.prior_generators.utils import anchor_inside_flags
from ..task_modules.samplers import PseudoSampler
from ..task_modules.utils import images_to_levels, multi_apply, unmap
from .base_dense_head import BaseDenseHead


class AnchorHead(BaseDenseHead):
    """Args (MMDetection's names and defaults):
        num_classes: object classes (no background).
        in_channels: channels of each input level.
        feat_channels: channels of the subnet convs of subclasses.
        anchor_generator, bbox_coder: TASK_UTILS configs.
        reg_decoded_bbox: regress decoded boxes (for IoU-type box losses) instead of deltas.
        loss_cls, loss_bbox: MODELS configs; ``use_sigmoid`` in loss_cls decides between
            num_classes sigmoid outputs and num_classes + 1 softmax outputs.
        train_cfg: assigner, optional sampler (default PseudoSampler), allowed_border,
            pos_weight (<= 0: 1).
        test_cfg: see BaseDenseHead.
    """

    def __init__(self, num_classes: int, in_channels: int, feat_channels: int = 256,
                 anchor_generator: Mapping = dict(type="AnchorGenerator", scales=[8, 16, 32],
                                                  ratios=[0.5, 1.0, 2.0],
                                                  strides=[4, 8, 16, 32, 64]),
                 bbox_coder: Mapping = dict(type="DeltaXYWHBBoxCoder", clip_border=True,
                                            target_means=(0.0, 0.0, 0.0, 0.0),
                                            target_stds=(1.0, 1.0, 1.0, 1.0)),
                 reg_decoded_bbox: bool = False,
                 loss_cls: Mapping = dict(type="CrossEntropyLoss", use_sigmoid=True,
                                          loss_weight=1.0),
                 loss_bbox: Mapping = dict(type="SmoothL1Loss", beta=1.0 / 9.0, loss_weight=1.0),
                 train_cfg: Mapping | None = None, test_cfg: Mapping | None = None,
                 init_cfg: dict | list[dict] | None = dict(  # noqa: B006 - copied, never mutated
                     type="Normal", layer="Conv2d", std=0.01)) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.feat_channels = feat_channels
        self.use_sigmoid_cls = loss_cls.get("use_sigmoid", False)
        self.cls_out_channels = num_classes if self.use_sigmoid_cls else num_classes + 1
        if self.cls_out_channels <= 0:
            raise ValueError(f"num_classes={num_classes} is too small")
        self.reg_decoded_bbox = reg_decoded_bbox
        self.bbox_coder = TASK_UTILS.build(bbox_coder)
        self.loss_cls = MODELS.build(loss_cls)
        self.loss_bbox = MODELS.build(loss_bbox)
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        if train_cfg:
            self.assigner = TASK_UTILS.build(train_cfg["assigner"])
            if train_cfg.get("sampler") is not None:
                self.sampler = TASK_UTILS.build(train_cfg["sampler"],
                                                default_args=dict(context=self))
            else:
                self.sampler = PseudoSampler(context=self)
        self.prior_generator = TASK_UTILS.build(anchor_generator)
        self.num_base_priors = self.prior_generator.num_base_priors[0]
        self._init_layers()

    def _init_layers(self) -> None:
        self.conv_cls = nn.Conv2d(self.in_channels,
                                  self.num_base_priors * self.cls_out_channels, 1)
        self.conv_reg = nn.Conv2d(self.in_channels,
                                  self.num_base_priors * self.bbox_coder.encode_size, 1)

    def forward_single(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(B, C, H, W) -> (B, A*cls_out, H, W) scores, (B, A*box_dim, H, W) deltas."""
        return self.conv_cls(x), self.conv_reg(x)

    def forward(self, x: Sequence[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        return multi_apply(self.forward_single, x)

    def get_anchors(self, featmap_sizes: Sequence[tuple[int, int]],
                    batch_img_metas: Sequence[dict], device: torch.device | str = "cpu"
                    ) -> tuple[list[list[Tensor]], list[list[Tensor]]]:
        """Per image, per level: anchors (H*W*A, 4) and flags (H*W*A,) saying which lie
        on the unpadded part of the feature map."""
        anchors = self.prior_generator.grid_priors(featmap_sizes, device=device)
        anchor_list = [anchors for _ in batch_img_metas]
        valid_flag_list = [self.prior_generator.valid_flags(featmap_sizes, meta["pad_shape"],
                                                            device)
                           for meta in batch_img_metas]
        return anchor_list, valid_flag_list

    def _get_targets_single(self, flat_anchors: Tensor, valid_flags: Tensor,
                            gt_instances: InstanceData, img_meta: dict,
                            gt_instances_ignore: InstanceData | None = None,
                            unmap_outputs: bool = True) -> tuple:
        """Targets of one image's (N, 4) anchors: labels (N,) (num_classes = background),
        label weights (N,), box targets and weights (N, box_dim), pos/neg indices and
        the sampling result."""
        inside_flags = anchor_inside_flags(flat_anchors, valid_flags, img_meta["img_shape"][:2],
                                           self.train_cfg["allowed_border"])
        if not inside_flags.any():
            raise ValueError("There is no valid anchor inside the image boundary. Check the "
                             "image size and anchor sizes, or set allowed_border=-1 in "
                             "train_cfg to skip this condition.")
        anchors = flat_anchors[inside_flags]
        pred_instances = InstanceData(priors=anchors)
        assign_result = self.assigner.assign(pred_instances, gt_instances, gt_instances_ignore)
        sampling_result = self.sampler.sample(assign_result, pred_instances, gt_instances)

        num_valid = anchors.shape[0]
        target_dim = (gt_instances.bboxes.size(-1) if self.reg_decoded_bbox
                      else self.bbox_coder.encode_size)
        bbox_targets = anchors.new_zeros(num_valid, target_dim)
        bbox_weights = anchors.new_zeros(num_valid, target_dim)
        labels = anchors.new_full((num_valid,), self.num_classes, dtype=torch.long)
        label_weights = anchors.new_zeros(num_valid, dtype=torch.float)
        pos_inds, neg_inds = sampling_result.pos_inds, sampling_result.neg_inds
        if len(pos_inds) > 0:
            if self.reg_decoded_bbox:
                pos_targets = get_box_tensor(sampling_result.pos_gt_bboxes)
            else:
                pos_targets = self.bbox_coder.encode(sampling_result.pos_priors,
                                                     sampling_result.pos_gt_bboxes)
            bbox_targets[pos_inds] = pos_targets
            bbox_weights[pos_inds] = 1.0
            labels[pos_inds] = sampling_result.pos_gt_labels
            pos_weight = self.train_cfg["pos_weight"]
            label_weights[pos_inds] = 1.0 if pos_weight <= 0 else pos_weight
        if len(neg_inds) > 0:
            label_weights[neg_inds] = 1.0
        if unmap_outputs:
            total = flat_anchors.size(0)
            labels = unmap(labels, total, inside_flags, fill=self.num_classes)
            label_weights = unmap(label_weights, total, inside_flags)
            bbox_targets = unmap(bbox_targets, total, inside_flags)
            bbox_weights = unmap(bbox_weights, total, inside_flags)
        return (labels, label_weights, bbox_targets, bbox_weights, pos_inds, neg_inds,
                sampling_result)

    def get_targets(self, anchor_list: Sequence[Sequence[Tensor]],
                    valid_flag_list: Sequence[Sequence[Tensor]],
                    batch_gt_instances: Sequence[InstanceData], batch_img_metas: Sequence[dict],
                    batch_gt_instances_ignore: Sequence[InstanceData | None] | None = None,
                    unmap_outputs: bool = True, return_sampling_results: bool = False) -> tuple:
        """Targets of the batch, regrouped per level: labels, label weights, box targets,
        box weights (each a list of (B, N_level, ...)), avg_factor (sum of the samplers'
        avg_factor), [sampling results], then per-level versions of any extra outputs a
        subclass's ``_get_targets_single`` returns after the first seven."""
        num_imgs = len(batch_img_metas)
        if not len(anchor_list) == len(valid_flag_list) == num_imgs:
            raise ValueError(f"{len(anchor_list)} anchor lists and {len(valid_flag_list)} "
                             f"flag lists for {num_imgs} images")
        if batch_gt_instances_ignore is None:
            batch_gt_instances_ignore = [None] * num_imgs
        num_level_anchors = [anchors.size(0) for anchors in anchor_list[0]]
        results = multi_apply(self._get_targets_single,
                              [cat_boxes(anchors) for anchors in anchor_list],
                              [torch.cat(flags) for flags in valid_flag_list],
                              batch_gt_instances, batch_img_metas, batch_gt_instances_ignore,
                              unmap_outputs=unmap_outputs)
        (all_labels, all_label_weights, all_bbox_targets, all_bbox_weights, _, _,
         sampling_results) = results[:7]
        avg_factor = sum(result.avg_factor for result in sampling_results)
        self._raw_positive_infos.update(sampling_results=sampling_results)
        targets = tuple(images_to_levels(t, num_level_anchors) for t in
                        (all_labels, all_label_weights, all_bbox_targets, all_bbox_weights))
        targets = (*targets, avg_factor)
        if return_sampling_results:
            targets = (*targets, sampling_results)
        return targets + tuple(images_to_levels(extra, num_level_anchors)
                               for extra in results[7:])

    def loss_by_feat_single(self, cls_score: Tensor, bbox_pred: Tensor, anchors: Tensor,
                            labels: Tensor, label_weights: Tensor, bbox_targets: Tensor,
                            bbox_weights: Tensor, avg_factor: int) -> tuple[Tensor, Tensor]:
        """Losses of one level: (B, A*C, H, W) scores and (B, A*box_dim, H, W) deltas
        against (B, H*W*A, ...) targets."""
        cls_score = cls_score.permute(0, 2, 3, 1).reshape(-1, self.cls_out_channels)
        loss_cls = self.loss_cls(cls_score, labels.reshape(-1), label_weights.reshape(-1),
                                 avg_factor=avg_factor)
        target_dim = bbox_targets.size(-1)
        bbox_pred = bbox_pred.permute(0, 2, 3, 1).reshape(-1, self.bbox_coder.encode_size)
        if self.reg_decoded_bbox:
            anchors = anchors.reshape(-1, anchors.size(-1))
            bbox_pred = get_box_tensor(self.bbox_coder.decode(anchors, bbox_pred))
        loss_bbox = self.loss_bbox(bbox_pred, bbox_targets.reshape(-1, target_dim),
                                   bbox_weights.reshape(-1, target_dim), avg_factor=avg_factor)
        return loss_cls, loss_bbox

    def loss_by_feat(self, cls_scores: Sequence[Tensor], bbox_preds: Sequence[Tensor],
                     batch_gt_instances: Sequence[InstanceData], batch_img_metas: Sequence[dict],
                     batch_gt_instances_ignore: Sequence[InstanceData | None] | None = None
                     ) -> dict[str, list[Tensor]]:
        """Per-level losses: ``loss_cls`` and ``loss_bbox``, each a list over levels."""
        featmap_sizes = [score.size()[-2:] for score in cls_scores]
        if len(featmap_sizes) != self.prior_generator.num_levels:
            raise ValueError(f"{len(featmap_sizes)} feature levels but the anchor generator "
                             f"has {self.prior_generator.num_levels}")
        anchor_list, valid_flag_list = self.get_anchors(featmap_sizes, batch_img_metas,
                                                        device=cls_scores[0].device)
        (labels_list, label_weights_list, bbox_targets_list, bbox_weights_list,
         avg_factor) = self.get_targets(anchor_list, valid_flag_list, batch_gt_instances,
                                        batch_img_metas, batch_gt_instances_ignore)
        num_level_anchors = [anchors.size(0) for anchors in anchor_list[0]]
        level_anchors = images_to_levels([cat_boxes(anchors) for anchors in anchor_list],
                                         num_level_anchors)
        losses_cls, losses_bbox = multi_apply(
            self.loss_by_feat_single, cls_scores, bbox_preds, level_anchors, labels_list,
            label_weights_list, bbox_targets_list, bbox_weights_list, avg_factor=avg_factor)
        return dict(loss_cls=losses_cls, loss_bbox=losses_bbox)
