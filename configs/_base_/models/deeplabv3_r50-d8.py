# DeepLabV3 (Chen et al., 2017) on ResNetV1c-50 at output stride 8: mmseg's deeplabv3_r50-d8.
# ASPP with image pooling, a 1x1 branch and 3x3 branches at dilations 12, 24, 36 (rates for
# output stride 8), 512 channels each, fused by one 3x3 conv; an auxiliary FCN head on stage 3.
# The backbone, data preprocessor and auxiliary head are fcn_r50-d8.py's; only the decode head differs.
_base_ = './fcn_r50-d8.py'
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    decode_head=dict(
        _delete_=True,
        type='ASPPHead',
        in_channels=2048,
        in_index=3,
        channels=512,
        dilations=(1, 12, 24, 36),
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
    ),
)
