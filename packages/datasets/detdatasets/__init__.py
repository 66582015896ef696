"""detdatasets: detection data: image io, COCO/VOC/YOLO datasets, transforms, samplers, COCO and VOC metrics, the synthetic shapes dataset."""
