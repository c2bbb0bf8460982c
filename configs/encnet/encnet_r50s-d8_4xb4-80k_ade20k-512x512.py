# EncNet R-50s-D8 (128-channel deep stem) (mmseg's encnet_r50s-d8_4xb4-80k_ade20k-512x512): ADE20K,
# crop 512x512, 4 GPUs x 4 images, 80k iterations.
_base_ = [
    '../_base_/models/encnet_r50-d8.py',
    '../_base_/datasets/ade20k.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_80k.py',
]
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(
    pretrained='segtools://resnet50s',
    data_preprocessor=data_preprocessor,
    decode_head=dict(num_classes=150),
    auxiliary_head=dict(num_classes=150),
    backbone=dict(stem_channels=128),
)
