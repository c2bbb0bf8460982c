# FCN on a dilated ResNeSt-50 (output stride 8), PyTorch-Encoding's FCN_ResNeSt50_ADE:
#   python train_dist.py --dataset ade20k --model fcn --aux --backbone resnest50
# (experiments/segmentation/train_dist.py: ADE20K defaults of 120 epochs and lr 0.01 per 16 images;
# 16 images per step, base 520 / crop 480, SGD momentum 0.9, wd 1e-4, heads 10x, poly decay, no warmup).
# - ResNeSt-50: radix 2, deep stem of 64 channels, average-pool shortcuts and avd; output stride 8
#   with Encoding's dilation convention (contract_dilation: first blocks at dilation 1 and 2).
# - Head as Encoding's FCNHead: one 3x3 conv 2048 -> 512 (in / 4), dropout 0.1, 1x1 classifier.
# - Auxiliary FCN head on stage 3 (1024 -> 256), weight 0.2 (Encoding's --aux-weight default).
# - align_corners=True everywhere; cross entropy averaged over non-ignored pixels (Encoding's).
# - Test: the long side resized to 520, 480x480 windows with stride 320 (MultiEvalModule at
#   scale 1); the published numbers use tools/test.py --tta (6 scales x flip).
# Starts, as the published run, from Encoding's ImageNet resnest50 (pretrained='segtools://resnest50').
_base_ = [
    '../_base_/models/fcn_r50-d8.py',
    '../_base_/datasets/encoding_ade20k.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/encoding_poly_ade20k-180e.py',
]
crop_size = (480, 480)
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(size=crop_size)
model = dict(
    pretrained='segtools://resnest50',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        _delete_=True,
        type='ResNeSt',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        contract_dilation=True,
        norm_cfg=norm_cfg,
        norm_eval=False,
    ),
    decode_head=dict(
        channels=512,
        num_convs=1,
        concat_input=False,
        num_classes=150,
        align_corners=True,
        loss_decode=dict(avg_non_ignore=True),
    ),
    auxiliary_head=dict(
        num_classes=150,
        align_corners=True,
        loss_decode=dict(loss_weight=0.2, avg_non_ignore=True),
    ),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(320, 320)),
)
# train_dist.py's ADE20K lr and epochs (train.py's are 0.004 and 180).
max_epochs = 120
optimizer = dict(lr=0.01)
optim_wrapper = dict(optimizer=optimizer)
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, begin=0, end=max_epochs, by_epoch=True, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
