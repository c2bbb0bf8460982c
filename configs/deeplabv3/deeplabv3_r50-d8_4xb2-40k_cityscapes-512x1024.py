# DeepLabV3 R-50-D8 on Cityscapes (19 classes), crop 512x1024, 40k iterations:
# mmseg's deeplabv3_r50-d8_4xb2-40k_cityscapes-512x1024 (4 GPUs x 2 images = 8 per step).
_base_ = [
    '../_base_/models/deeplabv3_r50-d8.py',
    '../_base_/datasets/cityscapes.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_40k.py',
]
crop_size = (512, 1024)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
)
