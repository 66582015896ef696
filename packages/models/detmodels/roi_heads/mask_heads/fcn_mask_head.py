"""FCNMaskHead (Mask R-CNN): a small FCN on RoI features predicting class-wise masks."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from detcore.registry import MODELS
from detcore.structures import InstanceData

from ...bricks import BaseModule, ConvModule, ModuleList, build_conv_layer, build_upsample_layer

# pasting N masks into an H x W image needs N*H*W floats; paste in chunks below this size
PASTE_MEMORY_LIMIT = 1024 ** 3


def mask_target(pos_proposals_list: Sequence[Tensor], pos_assigned_gt_inds_list: Sequence[Tensor],
                gt_masks_list: Sequence, cfg) -> Tensor:
    """(P, S, S) float mask targets: gt mask of each positive cropped to its proposal (clipped
    to the mask) and resized to ``cfg['mask_size']``; soft targets with ``soft_mask_target``."""
    size = cfg["mask_size"]
    size = tuple(size) if isinstance(size, Sequence) else (size, size)
    binarize = not cfg.get("soft_mask_target", False)
    targets = []
    for proposals, gt_inds, gt_masks in zip(pos_proposals_list, pos_assigned_gt_inds_list,
                                            gt_masks_list):
        if proposals.size(0) == 0:
            targets.append(proposals.new_zeros((0, *size)))
            continue
        limits = proposals.new_tensor([gt_masks.width, gt_masks.height] * 2)
        boxes = torch.minimum(proposals.detach().clamp(min=0), limits)
        crops = gt_masks.crop_and_resize(boxes.cpu().numpy(), size, inds=gt_inds.cpu().numpy(),
                                         device=proposals.device, binarize=binarize)
        targets.append(torch.from_numpy(crops.to_ndarray()).float().to(proposals.device))
    return torch.cat(targets) if targets else torch.zeros((0, *size))


def paste_masks(masks: Tensor, boxes: Tensor, img_h: int, img_w: int) -> Tensor:
    """Paste (N, h, w) mask probabilities into (N, img_h, img_w) at their (N, 4) xyxy boxes.

    Bilinear sampling at pixel centres (``grid_sample``, align_corners=False); pixels more
    than one pixel outside a box are zero (MMDetection's CPU ``_do_paste_mask`` window).
    """
    device = masks.device
    num = masks.size(0)
    x0, y0, x1, y1 = boxes.split(1, dim=1)  # (N, 1) each
    img_x = torch.arange(img_w, device=device, dtype=torch.float32) + 0.5
    img_y = torch.arange(img_h, device=device, dtype=torch.float32) + 0.5
    gx = ((img_x - x0) / (x1 - x0) * 2 - 1).nan_to_num(posinf=0.0, neginf=0.0)  # (N, W)
    gy = ((img_y - y0) / (y1 - y0) * 2 - 1).nan_to_num(posinf=0.0, neginf=0.0)  # (N, H)
    grid = torch.stack([gx[:, None, :].expand(num, img_h, img_w),
                        gy[:, :, None].expand(num, img_h, img_w)], dim=3)
    pasted = F.grid_sample(masks[:, None].float(), grid, align_corners=False)[:, 0]
    cols = torch.arange(img_w, device=device)
    rows = torch.arange(img_h, device=device)
    left = (boxes[:, 0].floor() - 1).clamp(min=0)
    top = (boxes[:, 1].floor() - 1).clamp(min=0)
    right = (boxes[:, 2].ceil() + 1).clamp(max=img_w)
    bottom = (boxes[:, 3].ceil() + 1).clamp(max=img_h)
    inside_x = (cols >= left[:, None]) & (cols < right[:, None])  # (N, W)
    inside_y = (rows >= top[:, None]) & (rows < bottom[:, None])  # (N, H)
    return pasted * (inside_y[:, :, None] & inside_x[:, None, :])


class FCNMaskHead(BaseModule):
    """``num_convs`` 3x3 convs, a 2x upsample (deconv + ReLU by default), then a 1x1
    ``conv_logits`` to one mask per class (or one with ``class_agnostic``):
    (K, C, 14, 14) -> (K, num_classes, 28, 28) logits."""

    def __init__(self, num_convs: int = 4, roi_feat_size: int = 14, in_channels: int = 256,
                 conv_kernel_size: int = 3, conv_out_channels: int = 256, num_classes: int = 80,
                 class_agnostic: bool = False,
                 upsample_cfg: dict | None = None,
                 conv_cfg: dict | None = None, norm_cfg: dict | None = None,
                 predictor_cfg: dict | None = None,
                 loss_mask: dict | None = None,
                 init_cfg: dict | list[dict] | None = None):
        if loss_mask is None:
            loss_mask = dict(type="CrossEntropyLoss", use_mask=True, loss_weight=1.0)
        if predictor_cfg is None:
            predictor_cfg = dict(type="Conv")
        if upsample_cfg is None:
            upsample_cfg = dict(type="deconv", scale_factor=2)
        if init_cfg is not None:
            raise ValueError("FCNMaskHead initialises its own layers; init_cfg must be None")
        super().__init__(init_cfg=init_cfg)
        self.upsample_cfg = dict(upsample_cfg)
        self.upsample_method = self.upsample_cfg.get("type")
        if self.upsample_method not in (None, "deconv", "nearest", "bilinear"):
            raise ValueError(f"upsample_cfg type {self.upsample_method!r} is not one of None, "
                             f"'deconv', 'nearest', 'bilinear'")
        self.scale_factor = self.upsample_cfg.pop("scale_factor", None)
        self.num_convs = num_convs
        self.roi_feat_size = (roi_feat_size, roi_feat_size) \
            if isinstance(roi_feat_size, int) else tuple(roi_feat_size)
        self.in_channels = in_channels
        self.conv_kernel_size = conv_kernel_size
        self.conv_out_channels = conv_out_channels
        self.num_classes = num_classes
        self.class_agnostic = class_agnostic
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.predictor_cfg = predictor_cfg
        self.loss_mask = MODELS.build(loss_mask)

        self.convs = ModuleList()
        for i in range(num_convs):
            self.convs.append(ConvModule(in_channels if i == 0 else conv_out_channels,
                                         conv_out_channels, conv_kernel_size,
                                         padding=(conv_kernel_size - 1) // 2,
                                         conv_cfg=conv_cfg, norm_cfg=norm_cfg))
        upsample_in = conv_out_channels if num_convs > 0 else in_channels
        if self.upsample_method is None:
            self.upsample = None
        elif self.upsample_method == "deconv":
            self.upsample = build_upsample_layer(dict(
                self.upsample_cfg, in_channels=upsample_in, out_channels=conv_out_channels,
                kernel_size=self.scale_factor, stride=self.scale_factor))
        else:
            self.upsample = build_upsample_layer(dict(
                self.upsample_cfg, scale_factor=self.scale_factor, mode=self.upsample_method,
                align_corners=None if self.upsample_method == "nearest" else False))
        logits_in = conv_out_channels if self.upsample_method == "deconv" else upsample_in
        self.conv_logits = build_conv_layer(predictor_cfg, logits_in,
                                            1 if class_agnostic else num_classes, 1)
        self.relu = nn.ReLU(inplace=True)

    def init_weights(self) -> None:
        super().init_weights()
        for m in (self.upsample, self.conv_logits):
            if m is not None and getattr(m, "weight", None) is not None:
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.constant_(m.bias, 0)

    def forward(self, x: Tensor) -> Tensor:
        for conv in self.convs:
            x = conv(x)
        if self.upsample is not None:
            x = self.upsample(x)
            if self.upsample_method == "deconv":
                x = self.relu(x)
        return self.conv_logits(x)

    def get_targets(self, sampling_results: Sequence, batch_gt_instances: Sequence[InstanceData],
                    rcnn_train_cfg) -> Tensor:
        return mask_target([res.pos_priors for res in sampling_results],
                           [res.pos_assigned_gt_inds for res in sampling_results],
                           [gt.masks for gt in batch_gt_instances], rcnn_train_cfg)

    def loss_and_target(self, mask_preds: Tensor, sampling_results: Sequence,
                        batch_gt_instances: Sequence[InstanceData], rcnn_train_cfg) -> dict:
        """``dict(loss_mask=dict(loss_mask=...), mask_targets=(P, S, S))``; the loss reads
        each positive's gt-class channel."""
        mask_targets = self.get_targets(sampling_results, batch_gt_instances, rcnn_train_cfg)
        pos_labels = torch.cat([res.pos_gt_labels for res in sampling_results])
        if mask_preds.size(0) == 0:
            loss = mask_preds.sum()
        else:
            labels = torch.zeros_like(pos_labels) if self.class_agnostic else pos_labels
            loss = self.loss_mask(mask_preds, mask_targets, labels)
        return dict(loss_mask=dict(loss_mask=loss), mask_targets=mask_targets)

    def predict_by_feat(self, mask_preds: Sequence[Tensor], results_list: list[InstanceData],
                        batch_img_metas: Sequence[dict], rcnn_test_cfg,
                        rescale: bool = False, activate_map: bool = False) -> list[InstanceData]:
        """Add ``masks`` (N, H, W) to each image's detections: bool at ``mask_thr_binary``,
        or uint8 probabilities x 255 when the threshold is negative. H, W is the original
        image with ``rescale`` (the boxes are then mapped back to it too, which is why the
        box head leaves them unscaled when there is a mask head), else the network input."""
        for preds, results, img_meta in zip(mask_preds, results_list, batch_img_metas):
            if rescale:
                results.bboxes = results.bboxes / results.bboxes.new_tensor(
                    img_meta["scale_factor"]).repeat(2)
            results.masks = self._predict_by_feat_single(preds, results.bboxes, results.labels,
                                                         img_meta, rcnn_test_cfg, rescale,
                                                         activate_map)
        return results_list

    def _predict_by_feat_single(self, mask_preds: Tensor, bboxes: Tensor, labels: Tensor,
                                img_meta: dict, rcnn_test_cfg, rescale: bool = False,
                                activate_map: bool = False) -> Tensor:
        threshold = rcnn_test_cfg["mask_thr_binary"]
        img_h, img_w = img_meta["ori_shape"][:2]
        if not rescale:
            scale_factor = img_meta["scale_factor"]
            img_h = int(round(img_h * float(scale_factor[1])))
            img_w = int(round(img_w * float(scale_factor[0])))
        dtype = torch.bool if threshold >= 0 else torch.uint8
        num = bboxes.size(0)
        if num == 0:
            return torch.zeros(0, img_h, img_w, dtype=dtype, device=bboxes.device)
        probs = mask_preds if activate_map else mask_preds.sigmoid()
        probs = probs[:, 0] if self.class_agnostic else probs[torch.arange(num), labels]
        im_mask = torch.zeros(num, img_h, img_w, dtype=dtype, device=bboxes.device)
        chunk = max(1, PASTE_MEMORY_LIMIT // (4 * img_h * img_w))
        for start in range(0, num, chunk):
            pasted = paste_masks(probs[start:start + chunk], bboxes[start:start + chunk],
                                 img_h, img_w)
            im_mask[start:start + chunk] = pasted >= threshold if threshold >= 0 \
                else (pasted * 255).to(torch.uint8)
        return im_mask
