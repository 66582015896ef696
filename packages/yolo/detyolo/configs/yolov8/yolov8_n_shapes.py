# YOLOv8-n on the synthetic shapes dataset (7 classes, 256x256 images, 1000 train / 200 val),
# the toolbox's main job: train and evaluate on 2 CPU cores in under 10 minutes.
# The dataset is generated at detdatasets' default root ($DETCORE_DATA/shapes or
# ~/.cache/detcore/shapes) the first time this config is read.
from detdatasets.synthetic import ensure_shapes_dataset

_base_ = './yolov8_n_coco.py'

data_root = str(ensure_shapes_dataset(progress=False)) + '/'
train_ann_file = 'annotations/instances_train.json'
train_data_prefix = 'images/train/'
val_ann_file = 'annotations/instances_val.json'
val_data_prefix = 'images/val/'
class_name = ('triangle', 'square', 'hexagon', 'star', 'cross', 'ellipse', 'ring')
num_classes = len(class_name)
metainfo = dict(classes=class_name)

img_scale = (256, 256)
max_epochs = 10
close_mosaic_epochs = 3
train_batch_size_per_gpu = 16
train_num_workers = 2
base_lr = 0.01
affine_scale = 0.5

model = dict(
    bbox_head=dict(head_module=dict(num_classes=num_classes)),
    train_cfg=dict(assigner=dict(num_classes=num_classes)))

pre_transform = _base_.pre_transform
last_transform = _base_.last_transform
train_pipeline = [
    *pre_transform,
    dict(type='YOLOMosaic', img_scale=img_scale, pad_val=114.0, pre_transform=pre_transform),
    dict(type='YOLOv5RandomAffine', max_rotate_degree=0.0, max_shear_degree=0.0,
         scaling_ratio_range=(1 - affine_scale, 1 + affine_scale),
         border=(-img_scale[0] // 2, -img_scale[1] // 2), border_val=(114, 114, 114)),
    *last_transform,
]
train_pipeline_stage2 = [
    *pre_transform,
    dict(type='YOLOv5KeepRatioResize', scale=img_scale),
    dict(type='LetterResize', scale=img_scale, allow_scale_up=True, pad_val=dict(img=114.0)),
    dict(type='YOLOv5RandomAffine', max_rotate_degree=0.0, max_shear_degree=0.0,
         scaling_ratio_range=(1 - affine_scale, 1 + affine_scale),
         border_val=(114, 114, 114)),
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
    dataset=dict(data_root=data_root, metainfo=metainfo, ann_file=train_ann_file,
                 data_prefix=dict(img=train_data_prefix), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=1,
    dataset=dict(data_root=data_root, metainfo=metainfo, ann_file=val_ann_file,
                 data_prefix=dict(img=val_data_prefix), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + val_ann_file)
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(lr=base_lr, batch_size_per_gpu=train_batch_size_per_gpu))
default_hooks = dict(
    logger=dict(interval=10),
    param_scheduler=dict(max_epochs=max_epochs, warmup_epochs=1, warmup_mim_iter=50),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
custom_hooks = [
    _base_.custom_hooks[0],
    dict(type='PipelineSwitchHook', switch_epoch=max_epochs - close_mosaic_epochs,
         switch_pipeline=train_pipeline_stage2),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs,
                 dynamic_intervals=[(max_epochs - close_mosaic_epochs, max_epochs)])
