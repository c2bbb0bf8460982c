# DeepLabV3 on a dilated ResNeSt-50 (output stride 8), PyTorch-Encoding's DeepLab_ResNeSt50_ADE:
#   python train_dist.py --dataset ade20k --model deeplab --aux --backbone resnest50
# (train_dist.py's ADE20K defaults: 120 epochs, lr 0.01 per 16 images; base 520 / crop 480, SGD
# momentum 0.9, wd 1e-4, heads 10x, poly decay, no warmup).
# - Head as Encoding's DeepLabV3: ASPP (image pooling, 1x1, 3x3 at rates 12, 24, 36), 256
#   channels each; 1x1 projection of the 1280 channels to 256 with Dropout2d 0.5; 3x3 conv 256 ->
#   256, dropout 0.1, 1x1 classifier.
# - Auxiliary FCN head on stage 3 (1024 -> 256), weight 0.2; align_corners=True; cross entropy
#   averaged over non-ignored pixels; slide test 480 / 320: all as fcn_s50-d8_4xb4-120e_ade20k-480x480.py,
#   whose backbone, data, schedule and auxiliary head this recipe shares; only the decode head differs.
_base_ = './fcn_s50-d8_4xb4-120e_ade20k-480x480.py'
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    decode_head=dict(
        _delete_=True,
        type='ASPPHead',
        in_channels=2048,
        in_index=3,
        channels=256,
        dilations=(1, 12, 24, 36),
        project_dropout_ratio=0.5,
        dropout_ratio=0.1,
        num_classes=150,
        norm_cfg=norm_cfg,
        align_corners=True,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0, avg_non_ignore=True),
    ),
)
