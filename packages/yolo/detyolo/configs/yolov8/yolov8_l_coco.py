# YOLOv8-l: full depth and width, last stage 512 channels, MixUp probability 0.15.
_base_ = './yolov8_m_coco.py'

deepen_factor = 1.00
widen_factor = 1.00
last_stage_out_channels = 512
mixup_prob = 0.15

img_scale = _base_.img_scale
pre_transform = _base_.pre_transform
last_transform = _base_.last_transform
mosaic_affine_transform = _base_.mosaic_affine_transform

model = dict(
    backbone=dict(last_stage_out_channels=last_stage_out_channels,
                  deepen_factor=deepen_factor, widen_factor=widen_factor),
    neck=dict(deepen_factor=deepen_factor, widen_factor=widen_factor,
              in_channels=[256, 512, last_stage_out_channels],
              out_channels=[256, 512, last_stage_out_channels]),
    bbox_head=dict(head_module=dict(widen_factor=widen_factor,
                                    in_channels=[256, 512, last_stage_out_channels])))

train_pipeline = [
    *pre_transform,
    *mosaic_affine_transform,
    dict(type='YOLOv5MixUp', prob=mixup_prob,
         pre_transform=[*pre_transform, *mosaic_affine_transform]),
    *last_transform,
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
