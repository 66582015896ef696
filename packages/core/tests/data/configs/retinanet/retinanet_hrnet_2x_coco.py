# Level 4: a Python config inheriting the YAML one.
import math

_base_ = './retinanet_r50_fpn_2x_coco.yaml'

_hrnet_channels = (18, 36, 72, 144)  # private helper: not a key


def _stage(num_modules, num_branches, block, depth):  # a helper function: not a key
    return dict(
        num_modules=num_modules,
        num_branches=num_branches,
        block=block,
        num_blocks=(depth, ) * num_branches,
        num_channels=_hrnet_channels[:num_branches])


model = dict(
    backbone=dict(
        _delete_=True,
        type='HRNet',
        extra=dict(
            stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK', num_blocks=(4, ),
                        num_channels=(64, )),
            stage2=_stage(1, 2, 'BASIC', 4),
            stage3=_stage(4, 3, 'BASIC', 4),
            stage4=_stage(3, 4, 'BASIC', 4)),
        init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://msra/hrnetv2_w18')),
    neck=dict(
        _delete_=True,
        type='HRFPN',
        in_channels=list(_hrnet_channels),
        out_channels={{_base_.model.neck.out_channels}},
        num_outs=_base_.model.neck.num_outs))

# a copy of a base value, then changed: the base keeps its own
test_pipeline = {{_base_.train_pipeline}}
test_pipeline[2]['keep_ratio'] = False

# change a base value in place, as MMDetection's visualization docs do
_base_.visualizer.vis_backends = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]

warmup_iters = int(math.sqrt(250000))
work_dir = './work_dirs/{{ fileBasenameNoExtension }}'
config_folder = '{{ fileDirname }}'
