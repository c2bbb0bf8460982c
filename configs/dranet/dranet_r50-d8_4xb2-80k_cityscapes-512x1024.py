# DRANet R-50-D8 (mmseg's dranet_r50-d8_4xb2-80k_cityscapes-512x1024): Cityscapes, crop 512x1024, 4
# GPUs x 2 images, 80k iterations.
_base_ = [
    '../_base_/models/dranet_r50-d8.py',
    '../_base_/datasets/cityscapes.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_80k.py',
]
crop_size = (512, 1024)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
)
