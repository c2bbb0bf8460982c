# wuhuikai/FastFCN's EncNet + JPU (train.py --model encnet --jpu JPU --aux --se-loss --dataset
# pcontext) with the PyTorch-Encoding recipe: resnet50s (128-channel deep stem) undilated (output
# stride 32), the JPU neck fusing c2..c4 at stride 8, EncHead with laterals from c2 and c3
# (FastFCN, like get_encnet, adds them on Pascal datasets); base 520 / crop 480, batch 16,
# poly lr 0.001 (heads and JPU x10), 80 epochs. No published number in our references.
# Loss averaged over labelled pixels (torch CE, as PyTorch-Encoding), aux and SE weights 0.2,
# align_corners=True. PyTorch-Encoding starts from its ImageNet resnet50s (pretrained='segtools://resnet50s').
# Its published numbers are multi-scale + flip (tools/test.py --tta).
_base_ = [
    '../_base_/models/fastfcn_r50-d32_jpu_enc.py',
    '../_base_/datasets/encoding_pascal_context_59.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/encoding_poly_pascal-context-80e.py',
]
crop_size = (480, 480)
# PyTorch-Encoding fixes the batch over all processes (tools/train.py divides it).
total_batch_size = 16
data_preprocessor = dict(size=crop_size)
model = dict(
    pretrained='segtools://resnet50s',
    data_preprocessor=data_preprocessor,
    backbone=dict(stem_channels=128),
    neck=dict(align_corners=True),
    decode_head=dict(num_classes=59, align_corners=True, add_lateral=True, loss_decode=dict(avg_non_ignore=True)),
    auxiliary_head=dict(num_classes=59, align_corners=True, loss_decode=dict(loss_weight=0.2, avg_non_ignore=True)),
    # PyTorch-Encoding evaluates with windows of the crop size at a stride of 2/3 crop.
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(320, 320)),
)
