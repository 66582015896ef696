# YOLOv5u-s: YOLOv5's backbone and neck with YOLOv8's anchor-free head, loss and assignment
# (Ultralytics' yolov5su; MMYOLO's yolov5u_s_syncbn_fast_8xb16-300e_coco.py), 300 epochs.
_base_ = '../yolov8/yolov8_s_coco.py'

deepen_factor = 0.33
widen_factor = 0.5
max_epochs = 300
norm_cfg = _base_.norm_cfg
act_cfg = _base_.act_cfg

model = dict(
    backbone=dict(_delete_=True, type='YOLOv5CSPDarknet', deepen_factor=deepen_factor,
                  widen_factor=widen_factor, norm_cfg=norm_cfg, act_cfg=act_cfg),
    neck=dict(_delete_=True, type='YOLOv5PAFPN', deepen_factor=deepen_factor,
              widen_factor=widen_factor, in_channels=[256, 512, 1024],
              out_channels=[256, 512, 1024], num_csp_blocks=3, norm_cfg=norm_cfg,
              act_cfg=act_cfg),
    bbox_head=dict(head_module=dict(in_channels=[256, 512, 1024], widen_factor=widen_factor)))

default_hooks = dict(param_scheduler=dict(max_epochs=max_epochs))
custom_hooks = [
    _base_.custom_hooks[0],
    dict(type='PipelineSwitchHook', switch_epoch=max_epochs - _base_.close_mosaic_epochs,
         switch_pipeline=_base_.train_pipeline_stage2),
]
train_cfg = dict(max_epochs=max_epochs,
                 dynamic_intervals=[(max_epochs - _base_.close_mosaic_epochs,
                                     _base_.val_interval_stage2)])
