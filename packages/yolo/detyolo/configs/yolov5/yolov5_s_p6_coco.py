# YOLOv5-s P6 (v6.2): a fourth output level (stride 64, 768-channel stage), 1280-pixel
# images, P6 anchors (MMYOLO's yolov5_s-p6-v62_syncbn_fast_8xb16-300e_coco.py).
_base_ = './yolov5_s_coco.py'

img_scale = (1280, 1280)
num_classes = 80
anchors = [[(19, 27), (44, 40), (38, 94)],        # P3/8
           [(96, 68), (86, 152), (180, 137)],     # P4/16
           [(140, 301), (303, 264), (238, 542)],  # P5/32
           [(436, 615), (739, 380), (925, 792)]]  # P6/64
strides = [8, 16, 32, 64]
num_det_layers = 4
affine_scale = 0.5

model = dict(
    backbone=dict(arch='P6', out_indices=(2, 3, 4, 5)),
    neck=dict(in_channels=[256, 512, 768, 1024], out_channels=[256, 512, 768, 1024]),
    bbox_head=dict(
        head_module=dict(in_channels=[256, 512, 768, 1024], featmap_strides=strides),
        prior_generator=dict(base_sizes=anchors, strides=strides),
        loss_cls=dict(loss_weight=0.5 * (num_classes / 80 * 3 / num_det_layers)),
        loss_bbox=dict(loss_weight=0.05 * (3 / num_det_layers)),
        loss_obj=dict(loss_weight=1.0 * ((img_scale[0] / 640) ** 2 * 3 / num_det_layers)),
        obj_level_weights=[4.0, 1.0, 0.25, 0.06]))

pre_transform = _base_.pre_transform
last_transform = _base_.last_transform
mosaic_affine_pipeline = [
    dict(type='YOLOMosaic', img_scale=img_scale, pad_val=114.0, pre_transform=pre_transform),
    dict(type='YOLOv5RandomAffine', max_rotate_degree=0.0, max_shear_degree=0.0,
         scaling_ratio_range=(1 - affine_scale, 1 + affine_scale),
         border=(-img_scale[0] // 2, -img_scale[1] // 2), border_val=(114, 114, 114)),
]
train_pipeline = [*pre_transform, *mosaic_affine_pipeline, *last_transform]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='YOLOv5KeepRatioResize', scale=img_scale),
    dict(type='LetterResize', scale=img_scale, allow_scale_up=False, pad_val=dict(img=114)),
    dict(type='YOLOLoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor',
                    'pad_param')),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline,
                                   batch_shapes_cfg=dict(img_size=img_scale[0])))
test_dataloader = val_dataloader
