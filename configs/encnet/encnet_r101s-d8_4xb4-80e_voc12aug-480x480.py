# Step 2 of PyTorch-Encoding's EncNet_ResNet101s_VOC recipe: fine-tune the COCO model on Pascal
# VOC + SBD aug (train.py --dataset pascal_aug --model-zoo EncNet_Resnet101_COCO --aux --se-loss
# --lr 0.001 --ft), batch 16, poly lr 0.001 (heads x10), 80 epochs. The model is the COCO one
# (no laterals, 21 classes), so every weight, classifier included, carries over.
# Loss averaged over labelled pixels (torch CE, as PyTorch-Encoding), aux and SE weights 0.2,
# align_corners=True. Starts from load_from below (not ImageNet weights). Published numbers
# are multi-scale + flip (tools/test.py --tta).
_base_ = [
    '../_base_/models/encnet_r50-d8.py',
    '../_base_/datasets/encoding_pascal_voc12_aug.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/encoding_poly_voc12aug-80e.py',
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
# The last checkpoint of step 1 (tools/train.py configs/encnet/encnet_r101s-d8_4xb4-30e_coco21-480x480.py).
load_from = 'work_dirs/encnet_r101s-d8_4xb4-30e_coco21-480x480/epoch_30.pth'
