# Cascade Mask R-CNN: Cascade R-CNN with an FCN mask head on every stage (mask
# probabilities averaged over the stages at test time).
_base_ = './cascade-rcnn_r50_fpn.py'

model = dict(
    data_preprocessor=dict(pad_mask=True),
    roi_head=dict(
        mask_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=0),
            out_channels=256,
            featmap_strides=[4, 8, 16, 32]),
        mask_head=dict(
            type='FCNMaskHead',
            num_convs=4,
            in_channels=256,
            conv_out_channels=256,
            num_classes=80,
            loss_mask=dict(type='CrossEntropyLoss', use_mask=True, loss_weight=1.0))),
    train_cfg=dict(rcnn=[dict(stage, mask_size=28) for stage in _base_.model.train_cfg.rcnn]),
    test_cfg=dict(rcnn=dict(mask_thr_binary=0.5)))
