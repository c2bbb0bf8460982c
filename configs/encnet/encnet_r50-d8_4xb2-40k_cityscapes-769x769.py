# EncNet R-50-D8 (mmseg's encnet_r50-d8_4xb2-40k_cityscapes-769x769): Cityscapes, crop 769x769, 4
# GPUs x 2 images, 40k iterations.
_base_ = [
    '../_base_/models/encnet_r50-d8.py',
    '../_base_/datasets/cityscapes_769x769.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_40k.py',
]
crop_size = (769, 769)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    decode_head=dict(align_corners=True),
    auxiliary_head=dict(align_corners=True),
    test_cfg=dict(mode='slide', crop_size=(769, 769), stride=(513, 513)),
)
