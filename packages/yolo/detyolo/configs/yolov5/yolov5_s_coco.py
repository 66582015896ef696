# YOLOv5-s (v6.1, anchor-based P5) on COCO with MMYOLO's settings
# (yolov5_s-v61_syncbn_fast_8xb16-300e_coco.py): 8 GPUs x 16 images, 300 epochs, validation
# with batch shapes. yolov5_{n,m,l,x}_coco.py override the scaling (and MixUp for m/l/x).
_base_ = '../_base_/default_runtime.py'

# dataset
data_root = 'data/coco/'
train_ann_file = 'annotations/instances_train2017.json'
train_data_prefix = 'train2017/'
val_ann_file = 'annotations/instances_val2017.json'
val_data_prefix = 'val2017/'
num_classes = 80
dataset_type = 'YOLOv5CocoDataset'
img_scale = (640, 640)  # width, height
train_batch_size_per_gpu = 16
train_num_workers = 8
persistent_workers = True
val_batch_size_per_gpu = 1
val_num_workers = 2
batch_shapes_cfg = dict(type='BatchShapePolicy', batch_size=val_batch_size_per_gpu,
                        img_size=img_scale[0], size_divisor=32, extra_pad_ratio=0.5)

# schedule
base_lr = 0.01
lr_factor = 0.01
weight_decay = 0.0005
max_epochs = 300
save_checkpoint_intervals = 10
max_keep_ckpts = 3

# model scaling
deepen_factor = 0.33
widen_factor = 0.5
strides = [8, 16, 32]
num_det_layers = 3
anchors = [[(10, 13), (16, 30), (33, 23)],   # P3/8
           [(30, 61), (62, 45), (59, 119)],  # P4/16
           [(116, 90), (156, 198), (373, 326)]]  # P5/32
norm_cfg = dict(type='BN', momentum=0.03, eps=0.001)
act_cfg = dict(type='SiLU', inplace=True)

# augmentation
affine_scale = 0.5

# loss: base weights at 80 classes, 640 pixels and 3 levels, scaled to this config below
loss_cls_weight = 0.5
loss_bbox_weight = 0.05
loss_obj_weight = 1.0
prior_match_thr = 4.0
obj_level_weights = [4.0, 1.0, 0.4]

model_test_cfg = dict(
    multi_label=True,
    nms_pre=30000,
    score_thr=0.001,
    nms=dict(type='nms', iou_threshold=0.65),
    max_per_img=300)

model = dict(
    type='YOLODetector',
    data_preprocessor=dict(
        type='YOLOv5DetDataPreprocessor', mean=[0., 0., 0.], std=[255., 255., 255.],
        bgr_to_rgb=True),
    backbone=dict(
        type='YOLOv5CSPDarknet', deepen_factor=deepen_factor, widen_factor=widen_factor,
        norm_cfg=norm_cfg, act_cfg=act_cfg),
    neck=dict(
        type='YOLOv5PAFPN', deepen_factor=deepen_factor, widen_factor=widen_factor,
        in_channels=[256, 512, 1024], out_channels=[256, 512, 1024], num_csp_blocks=3,
        norm_cfg=norm_cfg, act_cfg=act_cfg),
    bbox_head=dict(
        type='YOLOv5Head',
        head_module=dict(
            type='YOLOv5HeadModule', num_classes=num_classes, in_channels=[256, 512, 1024],
            widen_factor=widen_factor, featmap_strides=strides, num_base_priors=3),
        prior_generator=dict(type='YOLOAnchorGenerator', base_sizes=anchors, strides=strides),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, reduction='mean',
                      loss_weight=loss_cls_weight * (num_classes / 80 * 3 / num_det_layers)),
        loss_bbox=dict(type='YOLOIoULoss', iou_mode='ciou', bbox_format='xywh', eps=1e-7,
                       reduction='mean', loss_weight=loss_bbox_weight * (3 / num_det_layers),
                       return_iou=True),
        loss_obj=dict(type='CrossEntropyLoss', use_sigmoid=True, reduction='mean',
                      loss_weight=loss_obj_weight
                      * ((img_scale[0] / 640) ** 2 * 3 / num_det_layers)),
        prior_match_thr=prior_match_thr,
        obj_level_weights=obj_level_weights),
    test_cfg=model_test_cfg)

pre_transform = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='YOLOLoadAnnotations', with_bbox=True),
]
last_transform = [
    dict(type='YOLOv5HSVRandomAug'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'flip', 'flip_direction')),
]
train_pipeline = [
    *pre_transform,
    dict(type='YOLOMosaic', img_scale=img_scale, pad_val=114.0, pre_transform=pre_transform),
    dict(type='YOLOv5RandomAffine', max_rotate_degree=0.0, max_shear_degree=0.0,
         scaling_ratio_range=(1 - affine_scale, 1 + affine_scale),
         border=(-img_scale[0] // 2, -img_scale[1] // 2), border_val=(114, 114, 114)),
    *last_transform,
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='YOLOv5KeepRatioResize', scale=img_scale),
    dict(type='LetterResize', scale=img_scale, allow_scale_up=False, pad_val=dict(img=114)),
    dict(type='YOLOLoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor',
                    'pad_param')),
]

train_dataloader = dict(
    batch_size=train_batch_size_per_gpu,
    num_workers=train_num_workers,
    persistent_workers=persistent_workers,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type, data_root=data_root, ann_file=train_ann_file,
        data_prefix=dict(img=train_data_prefix),
        filter_cfg=dict(filter_empty_gt=False, min_size=32), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=val_batch_size_per_gpu,
    num_workers=val_num_workers,
    persistent_workers=persistent_workers,
    pin_memory=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type, data_root=data_root, test_mode=True,
        data_prefix=dict(img=val_data_prefix), ann_file=val_ann_file, pipeline=test_pipeline,
        batch_shapes_cfg=batch_shapes_cfg))
test_dataloader = val_dataloader

param_scheduler = None  # YOLOv5ParamSchedulerHook drives lr and momentum
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=base_lr, momentum=0.937, weight_decay=weight_decay,
                   nesterov=True, batch_size_per_gpu=train_batch_size_per_gpu),
    constructor='YOLOv5OptimizerConstructor')

default_hooks = dict(
    param_scheduler=dict(type='YOLOv5ParamSchedulerHook', scheduler_type='linear',
                         lr_factor=lr_factor, max_epochs=max_epochs),
    checkpoint=dict(type='CheckpointHook', interval=save_checkpoint_intervals,
                    save_best='auto', max_keep_ckpts=max_keep_ckpts))
custom_hooks = [
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0001, update_buffers=True,
         strict_load=False, priority=49),
]

val_evaluator = dict(type='CocoMetric', proposal_nums=(100, 1, 10),
                     ann_file=data_root + val_ann_file, metric='bbox')
test_evaluator = val_evaluator

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_interval=save_checkpoint_intervals)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
