# EncNet ("Context Encoding for Semantic Segmentation", Zhang et al., CVPR 2018) on
# ResNetV1c-50 at output stride 8, as mmseg's encnet_r50-d8: EncHead on c2..c4 (only c4 is
# used without laterals) with the SE loss (weight 0.2), an FCN auxiliary head on c3 (0.4).
# stem_channels=64 is mmseg's ResNetV1c (the open-mmlab://resnet50_v1c width); segtools'
# ResNetV1c defaults to PyTorch-Encoding's 128 (resnet50s), which the r50s configs use.
# pretrained is fcn_r50-d8.py's 'segtools://resnet50_v1c' (mmseg's ImageNet init).
# The backbone, data preprocessor and auxiliary head are fcn_r50-d8.py's; only the decode head differs.
_base_ = './fcn_r50-d8.py'
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    decode_head=dict(
        _delete_=True,
        type='EncHead',
        in_channels=[512, 1024, 2048],
        in_index=(1, 2, 3),
        channels=512,
        num_codes=32,
        use_se_loss=True,
        add_lateral=False,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
        loss_se_decode=dict(type='SELoss', loss_weight=0.2),
    ),
)
