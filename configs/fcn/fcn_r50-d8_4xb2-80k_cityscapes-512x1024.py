# FCN R-50-D8 on Cityscapes (19 classes), crop 512x1024, 80k iterations:
# mmseg's fcn_r50-d8_4xb2-80k_cityscapes-512x1024 (4 GPUs x 2 images = 8 per step).
_base_ = [
    '../_base_/models/fcn_r50-d8.py',
    '../_base_/datasets/cityscapes.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_80k.py',
]
crop_size = (512, 1024)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
)
