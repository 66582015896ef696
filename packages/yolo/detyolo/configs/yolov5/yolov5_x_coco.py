# YOLOv5-x (v6.1): YOLOv5-l 1.33 times deeper and 1.25 times wider.
_base_ = './yolov5_l_coco.py'

deepen_factor = 1.33
widen_factor = 1.25

model = dict(
    backbone=dict(deepen_factor=deepen_factor, widen_factor=widen_factor),
    neck=dict(deepen_factor=deepen_factor, widen_factor=widen_factor),
    bbox_head=dict(head_module=dict(widen_factor=widen_factor)))
