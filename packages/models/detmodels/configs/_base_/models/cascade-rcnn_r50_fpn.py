# Cascade R-CNN: the Faster R-CNN RPN and three class-agnostic box stages trained at IoU
# 0.5 / 0.6 / 0.7 with ever tighter target stds; stage losses weighted 1, 0.5, 0.25.
# Its RPN regresses with smooth L1 (beta 1/9) and drops anchors crossing the image border.
_base_ = './faster-rcnn_r50_fpn.py'


def _stage(stds, iou):
    """One cascade stage: its box head and its rcnn training settings."""
    head = dict(
        type='Shared2FCBBoxHead',
        in_channels=256,
        fc_out_channels=1024,
        roi_feat_size=7,
        num_classes=80,
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder', target_means=[0.0, 0.0, 0.0, 0.0], target_stds=stds),
        reg_class_agnostic=True,
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
        loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0))
    train = dict(
        assigner=dict(
            type='MaxIoUAssigner', pos_iou_thr=iou, neg_iou_thr=iou, min_pos_iou=iou,
            match_low_quality=False, ignore_iof_thr=-1),
        sampler=dict(
            type='RandomSampler', num=512, pos_fraction=0.25, neg_pos_ub=-1,
            add_gt_as_proposals=True),
        pos_weight=-1,
        debug=False)
    return head, train


_stages = [_stage([0.1, 0.1, 0.2, 0.2], 0.5), _stage([0.05, 0.05, 0.1, 0.1], 0.6),
           _stage([0.033, 0.033, 0.067, 0.067], 0.7)]

model = dict(
    type='CascadeRCNN',
    rpn_head=dict(
        loss_bbox=dict(_delete_=True, type='SmoothL1Loss', beta=1.0 / 9.0, loss_weight=1.0)),
    roi_head=dict(
        _delete_=True,
        type='CascadeRoIHead',
        num_stages=3,
        stage_loss_weights=[1, 0.5, 0.25],
        bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
            out_channels=256,
            featmap_strides=[4, 8, 16, 32]),
        bbox_head=[head for head, _ in _stages]),
    train_cfg=dict(
        rpn=dict(allowed_border=0),
        rpn_proposal=dict(max_per_img=2000),
        rcnn=[train for _, train in _stages]))
