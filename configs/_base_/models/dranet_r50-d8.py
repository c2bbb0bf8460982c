# DRANet ("Scene Segmentation with Dual Relation-aware Attention Network", Fu et al., IEEE
# TNNLS 2020; CASIA-IVA-Lab/DANet) on ResNetV1c-50 at output stride 8, in mmseg's layout:
# DRANHead reads c1 (low level, for the cross-level gating decoder) and c4; an FCN auxiliary
# head on c3 (weight 0.4, as mmseg's danet_r50-d8). The backbone (stem_channels=64, mmseg's
# ResNetV1c), data preprocessor and auxiliary head are fcn_r50-d8.py's; only the decode head differs.
_base_ = './fcn_r50-d8.py'
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    decode_head=dict(
        _delete_=True,
        type='DRANHead',
        in_channels=[256, 2048],
        in_index=(0, 3),
        channels=256,
        inter_channels=512,
        pool_scales=(1, 2, 3, 6),
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
    ),
)
