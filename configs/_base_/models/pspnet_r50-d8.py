# PSPNet (Zhao et al., CVPR 2017) on ResNetV1c-50 at output stride 8: mmseg's pspnet_r50-d8.
# Pyramid pooling over 1, 2, 3 and 6 bins (512 channels each, concatenated with the 2048-channel
# input), a 3x3 conv to 512; an auxiliary FCN head on stage 3 (1024 channels, loss weight 0.4).
# The backbone, data preprocessor and auxiliary head are fcn_r50-d8.py's; only the decode head differs.
_base_ = './fcn_r50-d8.py'
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    decode_head=dict(
        _delete_=True,
        type='PSPHead',
        in_channels=2048,
        in_index=3,
        channels=512,
        pool_scales=(1, 2, 3, 6),
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
    ),
)
