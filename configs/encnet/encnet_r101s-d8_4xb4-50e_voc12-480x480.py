# Step 3 of PyTorch-Encoding's EncNet_ResNet101s_VOC recipe: fine-tune the VOC-aug model on Pascal
# VOC 2012 (train.py --dataset pascal_voc --lr 0.0001 --ft), batch 16, poly lr 0.0001
# (heads x10), 50 epochs. Published: 85.9 mIoU on the VOC 2012 *test* server (no weights
# published; tools/test.py with a format-only evaluator writes the submission).
# Loss averaged over labelled pixels (torch CE, as PyTorch-Encoding), aux and SE weights 0.2,
# align_corners=True. Starts from load_from below (not ImageNet weights). Published numbers
# are multi-scale + flip (tools/test.py --tta).
_base_ = [
    '../_base_/models/encnet_r50-d8.py',
    '../_base_/datasets/encoding_pascal_voc12.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/encoding_poly_voc12-50e.py',
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
# The last checkpoint of step 2 (tools/train.py configs/encnet/encnet_r101s-d8_4xb4-80e_voc12aug-480x480.py).
load_from = 'work_dirs/encnet_r101s-d8_4xb4-80e_voc12aug-480x480/epoch_80.pth'
