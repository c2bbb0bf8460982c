# DeepLabV3 on a dilated ResNeSt-50 (output stride 8), PyTorch-Encoding's DeepLab_ResNeSt50_ADE:
#   python train_dist.py --dataset ade20k --model deeplab --aux --backbone resnest50
# (train_dist.py's ADE20K defaults: 120 epochs, lr 0.01 per 16 images; base 520 / crop 480, SGD
# momentum 0.9, wd 1e-4, heads 10x, poly decay, no warmup).
# - Head as Encoding's DeepLabV3: ASPP (image pooling, 1x1, 3x3 at rates 12, 24, 36), 256
#   channels each; 1x1 projection of the 1280 channels to 256 with Dropout2d 0.5; 3x3 conv 256 ->
#   256, dropout 0.1, 1x1 classifier.
# - Auxiliary FCN head on stage 3 (1024 -> 256), weight 0.2; align_corners=True; cross entropy
#   averaged over non-ignored pixels; slide test 480 / 320 (see fcn_s50-d8_4xb4-120e_ade20k-480x480.py).
_base_ = [
    '../_base_/models/deeplabv3_r50-d8.py',
    '../_base_/datasets/encoding_ade20k.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/encoding_poly_ade20k-180e.py',
]
crop_size = (480, 480)
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(size=crop_size)
model = dict(
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
        channels=256,
        dilations=(1, 12, 24, 36),
        project_dropout_ratio=0.5,
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
