# FastFCN (JPU) + PSPNet R-50-D32 (mmseg's fastfcn_r50-d32_jpu_psp_4xb4-160k_ade20k-512x512):
# ADE20K, crop 512x512, 4 GPUs x 4 images, 160k iterations.
_base_ = [
    '../_base_/models/fastfcn_r50-d32_jpu_psp.py',
    '../_base_/datasets/ade20k.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_160k.py',
]
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    decode_head=dict(num_classes=150),
    auxiliary_head=dict(num_classes=150),
)
