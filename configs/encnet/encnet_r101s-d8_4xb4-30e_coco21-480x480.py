# PyTorch-Encoding's encnet_resnet101s_coco, step 1 of its VOC recipe: resnet101s at output stride
# 8 on COCO restricted to the 21 VOC categories, base 520 / crop 480, batch 16, poly lr 0.004
# (heads x10), 30 epochs. No laterals (get_encnet adds them only for Pascal datasets), so the
# VOC fine-tuning configs load this checkpoint key for key. No published number (the zoo
# name has no weights).
# Loss averaged over labelled pixels (torch CE, as PyTorch-Encoding), aux and SE weights 0.2,
# align_corners=True. PyTorch-Encoding starts from its ImageNet resnet101s (pretrained='segtools://resnet101s').
# Its published numbers are multi-scale + flip (tools/test.py --tta).
_base_ = [
    '../_base_/models/encnet_r50-d8.py',
    '../_base_/datasets/encoding_coco21.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/encoding_poly_coco-30e.py',
]
crop_size = (480, 480)
# PyTorch-Encoding fixes the batch over all processes (tools/train.py divides it).
total_batch_size = 16
data_preprocessor = dict(size=crop_size)
model = dict(
    pretrained='segtools://resnet101s',
    data_preprocessor=data_preprocessor,
    backbone=dict(depth=101, stem_channels=128),
    decode_head=dict(num_classes=21, align_corners=True, loss_decode=dict(avg_non_ignore=True)),
    auxiliary_head=dict(num_classes=21, align_corners=True, loss_decode=dict(loss_weight=0.2, avg_non_ignore=True)),
    # PyTorch-Encoding evaluates with windows of the crop size at a stride of 2/3 crop.
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(320, 320)),
)
