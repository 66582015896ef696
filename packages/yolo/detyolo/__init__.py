"""detyolo: the YOLO family (YOLOv5, YOLOv8, YOLOX, RTMDet, ...): backbones, necks, heads, assigners and augmentations, after MMYOLO's design."""
