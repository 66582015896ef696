# YOLOv5-m (v6.1): deeper and wider, stronger affine scaling, and MixUp (probability 0.1)
# of two Mosaic images.
_base_ = './yolov5_s_coco.py'

deepen_factor = 0.67
widen_factor = 0.75
affine_scale = 0.9
mixup_prob = 0.1

img_scale = _base_.img_scale
pre_transform = _base_.pre_transform
last_transform = _base_.last_transform

model = dict(
    backbone=dict(deepen_factor=deepen_factor, widen_factor=widen_factor),
    neck=dict(deepen_factor=deepen_factor, widen_factor=widen_factor),
    bbox_head=dict(head_module=dict(widen_factor=widen_factor)))

mosaic_affine_pipeline = [
    dict(type='YOLOMosaic', img_scale=img_scale, pad_val=114.0, pre_transform=pre_transform),
    dict(type='YOLOv5RandomAffine', max_rotate_degree=0.0, max_shear_degree=0.0,
         scaling_ratio_range=(1 - affine_scale, 1 + affine_scale),
         border=(-img_scale[0] // 2, -img_scale[1] // 2), border_val=(114, 114, 114)),
]
train_pipeline = [
    *pre_transform,
    *mosaic_affine_pipeline,
    dict(type='YOLOv5MixUp', prob=mixup_prob,
         pre_transform=[*pre_transform, *mosaic_affine_pipeline]),
    *last_transform,
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
