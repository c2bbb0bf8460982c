# PyTorch-Encoding's ATTEN (train.py --model atten --backbone wideresnet38 --aux --dataset ade20k):
# WideResNet-38 with in-place ABN at output stride 8, ACF attention (8 heads, 1 softmax) with a
# global-pooling branch and EncNet context gating, no laterals, no SE loss; base 520 / crop 480,
# batch 16, poly lr 0.004 (heads x10), 180 epochs. No published number.
# Loss averaged over labelled pixels (torch CE, as PyTorch-Encoding), aux weight 0.2 (in the base),
# align_corners=True. PyTorch-Encoding starts from its ImageNet wideresnet38 (pretrained='segtools://wideresnet38').
# Its published numbers are multi-scale + flip (tools/test.py --tta).
_base_ = [
    '../_base_/models/atten_wrn38-d8.py',
    '../_base_/datasets/encoding_ade20k.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/encoding_poly_ade20k-180e.py',
]
crop_size = (480, 480)
# PyTorch-Encoding fixes the batch over all processes (tools/train.py divides it).
total_batch_size = 16
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    decode_head=dict(num_classes=150),
    auxiliary_head=dict(num_classes=150),
    # PyTorch-Encoding evaluates with windows of the crop size at a stride of 2/3 crop.
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(320, 320)),
)
