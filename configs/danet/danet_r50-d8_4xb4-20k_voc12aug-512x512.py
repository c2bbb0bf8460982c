# DANet R-50-D8 on Pascal VOC 2012 + SBD aug (21 classes), crop 512x512, 20k iterations:
# mmseg's danet_r50-d8_4xb4-20k_voc12aug-512x512 (4 GPUs x 4 images = 16 per step).
_base_ = [
    '../_base_/models/danet_r50-d8.py',
    '../_base_/datasets/pascal_voc12_aug.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_20k.py',
]
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    decode_head=dict(num_classes=21),
    auxiliary_head=dict(num_classes=21),
)
