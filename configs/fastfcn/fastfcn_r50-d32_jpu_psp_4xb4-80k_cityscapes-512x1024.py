# FastFCN (JPU) + PSPNet R-50-D32 (mmseg's fastfcn_r50-d32_jpu_psp_4xb4-80k_cityscapes-512x1024):
# Cityscapes, crop 512x1024, 4 GPUs x 4 images, 80k iterations.
_base_ = [
    '../_base_/models/fastfcn_r50-d32_jpu_psp.py',
    '../_base_/datasets/cityscapes.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_80k.py',
]
crop_size = (512, 1024)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
)
train_dataloader = dict(batch_size=4)
