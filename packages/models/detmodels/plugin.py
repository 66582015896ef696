"""detmodels's plugin module: what it contributes to detcore.

Kept cheap to import: every component is registered lazily by import path, so
`detcore plugins` lists them without importing torch.
"""

from pathlib import Path

from detcore import hookimpl

# Layers under MMCV's names: build_conv_layer / build_norm_layer / build_activation_layer /
# build_upsample_layer / build_padding_layer resolve `type` through MODELS, so configs can say
# norm_cfg=dict(type='BN'), act_cfg=dict(type='ReLU'), upsample_cfg=dict(type='deconv').
BRICKS = {
    # convolutions (conv_cfg / dcn)
    "Conv1d": "torch.nn:Conv1d",
    "Conv2d": "torch.nn:Conv2d",
    "Conv3d": "torch.nn:Conv3d",
    "Conv": "torch.nn:Conv2d",
    "DCN": "detmodels.bricks.deform_conv:DeformConv2dPack",
    "DCNv2": "detmodels.bricks.deform_conv:ModulatedDeformConv2dPack",
    "Linear": "torch.nn:Linear",
    # norms (norm_cfg)
    "BN": "torch.nn:BatchNorm2d",
    "BN1d": "torch.nn:BatchNorm1d",
    "BN2d": "torch.nn:BatchNorm2d",
    "BN3d": "torch.nn:BatchNorm3d",
    "SyncBN": "torch.nn:SyncBatchNorm",
    "GN": "torch.nn:GroupNorm",
    "LN": "torch.nn:LayerNorm",
    "IN": "torch.nn:InstanceNorm2d",
    "IN1d": "torch.nn:InstanceNorm1d",
    "IN2d": "torch.nn:InstanceNorm2d",
    "IN3d": "torch.nn:InstanceNorm3d",
    "FrozenBN": "detmodels.bricks.frozen_batch_norm:FrozenBatchNorm2d",
    # activations (act_cfg)
    "ReLU": "torch.nn:ReLU",
    "LeakyReLU": "torch.nn:LeakyReLU",
    "PReLU": "torch.nn:PReLU",
    "RReLU": "torch.nn:RReLU",
    "ReLU6": "torch.nn:ReLU6",
    "ELU": "torch.nn:ELU",
    "Sigmoid": "torch.nn:Sigmoid",
    "Tanh": "torch.nn:Tanh",
    "SiLU": "torch.nn:SiLU",
    "GELU": "torch.nn:GELU",
    "Mish": "torch.nn:Mish",
    "HSwish": "torch.nn:Hardswish",
    "HSigmoid": "detmodels.bricks.activation:HSigmoid",
    "Swish": "detmodels.bricks.activation:Swish",
    "Clamp": "detmodels.bricks.activation:Clamp",
    "Clip": "detmodels.bricks.activation:Clamp",
    # padding (ConvModule padding_mode)
    "zero": "torch.nn:ZeroPad2d",
    "reflect": "torch.nn:ReflectionPad2d",
    "replicate": "torch.nn:ReplicationPad2d",
    # upsampling (upsample_cfg)
    "nearest": "torch.nn:Upsample",
    "bilinear": "torch.nn:Upsample",
    "deconv": "torch.nn:ConvTranspose2d",
    "ConvTranspose2d": "torch.nn:ConvTranspose2d",
    "deconv3d": "torch.nn:ConvTranspose3d",
    "pixel_shuffle": "detmodels.bricks.upsample:PixelShufflePack",
    # dropout (dropout_layer)
    "Dropout": "detmodels.bricks.drop:Dropout",
    "DropPath": "detmodels.bricks.drop:DropPath",
    # bricks used by name in configs
    "ConvModule": "detmodels.bricks.conv_module",
    "DepthwiseSeparableConvModule": "detmodels.bricks.depthwise_separable_conv_module",
    "Scale": "detmodels.bricks.scale",
    "FFN": "detmodels.bricks.transformer",
}

BACKBONES = {
    "ResNet": "detmodels.backbones.resnet",
    "ResNetV1d": "detmodels.backbones.resnet",
    "ResNeXt": "detmodels.backbones.resnext",
    "RegNet": "detmodels.backbones.regnet",
    "MobileNetV2": "detmodels.backbones.mobilenet_v2",
    "SwinTransformer": "detmodels.backbones.swin",
    "TorchvisionBackbone": "detmodels.backbones.torchvision_backbone",
    "TIMMBackbone": "detmodels.backbones.timm_backbone",
}

NECKS = {
    "FPN": "detmodels.necks.fpn",
    "PAFPN": "detmodels.necks.pafpn",
    "ChannelMapper": "detmodels.necks.channel_mapper",
    "DilatedEncoder": "detmodels.necks.dilated_encoder",
}

DATA_PREPROCESSORS = {
    "DetDataPreprocessor": "detmodels.data_preprocessors.data_preprocessor",
}

DENSE_HEADS = {
    "AnchorHead": "detmodels.dense_heads.anchor_head",
    "RPNHead": "detmodels.dense_heads.rpn_head",
    "RetinaHead": "detmodels.dense_heads.retina_head",
    "AnchorFreeHead": "detmodels.dense_heads.anchor_free_head",
    "FCOSHead": "detmodels.dense_heads.fcos_head",
    "ATSSHead": "detmodels.dense_heads.atss_head",
    "GFLHead": "detmodels.dense_heads.gfl_head",
    "SSDHead": "detmodels.dense_heads.ssd_head",
}

ROI_HEADS = {
    "SingleRoIExtractor": "detmodels.roi_heads.roi_extractors.single_level_roi_extractor",
    "BBoxHead": "detmodels.roi_heads.bbox_heads.bbox_head",
    "ConvFCBBoxHead": "detmodels.roi_heads.bbox_heads.convfc_bbox_head",
    "Shared2FCBBoxHead": "detmodels.roi_heads.bbox_heads.convfc_bbox_head",
    "Shared4Conv1FCBBoxHead": "detmodels.roi_heads.bbox_heads.convfc_bbox_head",
    "FCNMaskHead": "detmodels.roi_heads.mask_heads.fcn_mask_head",
    "StandardRoIHead": "detmodels.roi_heads.standard_roi_head",
    "CascadeRoIHead": "detmodels.roi_heads.cascade_roi_head",
}

DETECTORS = {
    "SingleStageDetector": "detmodels.detectors.single_stage",
    "RetinaNet": "detmodels.detectors.retinanet",
    "FCOS": "detmodels.detectors.fcos",
    "ATSS": "detmodels.detectors.atss",
    "GFL": "detmodels.detectors.gfl",
}

TWO_STAGE_DETECTORS = {
    "TwoStageDetector": "detmodels.detectors.two_stage",
    "RPN": "detmodels.detectors.rpn",
    "FasterRCNN": "detmodels.detectors.faster_rcnn",
    "MaskRCNN": "detmodels.detectors.mask_rcnn",
    "CascadeRCNN": "detmodels.detectors.cascade_rcnn",
}

LOSSES = {
    "CrossEntropyLoss": "detmodels.losses.cross_entropy_loss",
    "FocalLoss": "detmodels.losses.focal_loss",
    "QualityFocalLoss": "detmodels.losses.gfocal_loss",
    "DistributionFocalLoss": "detmodels.losses.gfocal_loss",
    "VarifocalLoss": "detmodels.losses.varifocal_loss",
    "SmoothL1Loss": "detmodels.losses.smooth_l1_loss",
    "L1Loss": "detmodels.losses.smooth_l1_loss",
    "BalancedL1Loss": "detmodels.losses.balanced_l1_loss",
    "IoULoss": "detmodels.losses.iou_loss",
    "GIoULoss": "detmodels.losses.iou_loss",
    "DIoULoss": "detmodels.losses.iou_loss",
    "CIoULoss": "detmodels.losses.iou_loss",
    "EIoULoss": "detmodels.losses.iou_loss",
    "SIoULoss": "detmodels.losses.iou_loss",
    "GHMC": "detmodels.losses.ghm_loss",
    "GHMR": "detmodels.losses.ghm_loss",
    "DiceLoss": "detmodels.losses.dice_loss",
}

TASK_UTILS = {
    # prior generators
    "AnchorGenerator": "detmodels.task_modules.prior_generators.anchor_generator",
    "SSDAnchorGenerator": "detmodels.task_modules.prior_generators.anchor_generator",
    "YOLOAnchorGenerator": "detmodels.task_modules.prior_generators.anchor_generator",
    "MlvlPointGenerator": "detmodels.task_modules.prior_generators.point_generator",
    # box coders
    "DeltaXYWHBBoxCoder": "detmodels.task_modules.coders.delta_xywh_bbox_coder",
    "DistancePointBBoxCoder": "detmodels.task_modules.coders.distance_point_bbox_coder",
    "TBLRBBoxCoder": "detmodels.task_modules.coders.tblr_bbox_coder",
    "PseudoBBoxCoder": "detmodels.task_modules.coders.pseudo_bbox_coder",
    # assigners, their IoU calculator and the Hungarian matching costs
    "BboxOverlaps2D": "detmodels.task_modules.assigners.iou2d_calculator",
    "MaxIoUAssigner": "detmodels.task_modules.assigners.max_iou_assigner",
    "ATSSAssigner": "detmodels.task_modules.assigners.atss_assigner",
    "SimOTAAssigner": "detmodels.task_modules.assigners.sim_ota_assigner",
    "TaskAlignedAssigner": "detmodels.task_modules.assigners.task_aligned_assigner",
    "HungarianAssigner": "detmodels.task_modules.assigners.hungarian_assigner",
    "ClassificationCost": "detmodels.task_modules.assigners.match_cost",
    "FocalLossCost": "detmodels.task_modules.assigners.match_cost",
    "BBoxL1Cost": "detmodels.task_modules.assigners.match_cost",
    "IoUCost": "detmodels.task_modules.assigners.match_cost",
    "DiceCost": "detmodels.task_modules.assigners.match_cost",
    "CrossEntropyLossCost": "detmodels.task_modules.assigners.match_cost",
    # samplers
    "RandomSampler": "detmodels.task_modules.samplers.random_sampler",
    "PseudoSampler": "detmodels.task_modules.samplers.pseudo_sampler",
    "OHEMSampler": "detmodels.task_modules.samplers.ohem_sampler",
}


@hookimpl
def detcore_register_components(registries):
    registries.MODELS.register_lazy(BRICKS)
    registries.MODELS.register_lazy(BACKBONES)
    registries.MODELS.register_lazy(NECKS)
    registries.MODELS.register_lazy(DATA_PREPROCESSORS)
    registries.MODELS.register_lazy(DENSE_HEADS)
    registries.MODELS.register_lazy(ROI_HEADS)
    registries.MODELS.register_lazy(DETECTORS)
    registries.MODELS.register_lazy(TWO_STAGE_DETECTORS)
    registries.MODELS.register_lazy(LOSSES)
    registries.TASK_UTILS.register_lazy(TASK_UTILS)


@hookimpl
def detcore_config_roots():
    return {"detmodels": Path(__file__).parent / "configs"}
